// What the editor files (*.html, plain browser scripts that cannot import TypeScript) need from the core,
// written into them by the build (gulpfile.js) where a marker stands.
import { TOPIC_KIND_DESCRIPTIONS, TOPIC_KINDS, type TopicField, type TopicKind } from '../core';

export interface EditorTopicKind {
  kind: TopicKind;
  /** The editor fields the kind reads: its ids, or the whole topic. */
  fields: readonly TopicField[];
}

export const EDITOR_TOPIC_KINDS: readonly EditorTopicKind[] = TOPIC_KINDS.map((kind) => {
  const { path, ids } = TOPIC_KIND_DESCRIPTIONS[kind];
  return { kind, fields: path === undefined ? ['topic'] : ids };
});

/** Marker -> the JavaScript value written in its place. */
export const EDITOR_DATA: Readonly<Record<string, unknown>> = {
  PINGSTREAMS_TOPIC_KINDS: EDITOR_TOPIC_KINDS,
};

/** `text` with every marker replaced by its value as JSON. */
export function injectEditorData(text: string): string {
  let out = text;
  for (const [marker, value] of Object.entries(EDITOR_DATA)) out = out.split(marker).join(JSON.stringify(value));
  return out;
}
