// Every form in which a token, or a recognisable part of it, could leak into text a user or a log sees.
import { randomBytes } from 'node:crypto';

/** A claim that makes a test token unmistakable (and its payload segment unique to the test run). */
export function canaryClaim(): string {
  return `canary-${randomBytes(9).toString('hex')}`;
}

export function secretForms(token: string, canary?: string): Array<[label: string, form: string]> {
  const [header, payload, signature] = token.split('.');
  const forms: Array<[string, string]> = [
    ['token', token],
    ['JWT token', `JWT ${token}`],
    ['URL-encoded JWT token', encodeURIComponent(`JWT ${token}`)],
    ['form-encoded JWT token', `JWT+${token}`],
    ['header.payload', `${header}.${payload}`],
    ['payload', payload],
    ['signature', signature],
    ['URL-encoded signature', encodeURIComponent(signature)],
    // Middle parts, as they would show in a truncated or wrapped line.
    ['payload middle', payload.slice(8, 40)],
    ['signature middle', signature.slice(6, 30)],
  ];
  if (canary) forms.push(['canary claim', canary]);
  return forms;
}

/** The forms of the secret found in `text` (empty when it is clean). */
export function leakedForms(text: string, token: string, canary?: string): string[] {
  return secretForms(token, canary)
    .filter(([, form]) => form.length >= 8 && text.includes(form))
    .map(([label]) => label);
}
