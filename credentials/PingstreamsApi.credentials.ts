import type { ICredentialType, INodeProperties } from 'n8n-workflow';

// The connection test lives on the nodes (`testedBy: 'pingstreamsApiTest'`): it needs a WebSocket
// handshake and a heartbeat, which the declarative HTTP `test` of a credential cannot do.
export class PingstreamsApi implements ICredentialType {
  name = 'pingstreamsApi';

  displayName = 'Pingstreams API';

  documentationUrl = 'https://github.com/pingstreams/n8n-nodes-pingstreams/blob/main/docs/n8n.md#credentials';

  icon = { light: 'file:../icons/pingstreams.svg', dark: 'file:../icons/pingstreams.dark.svg' } as const;

  properties: INodeProperties[] = [
    {
      displayName: 'Access Token',
      name: 'accessToken',
      type: 'string',
      typeOptions: { password: true },
      default: '',
      required: true,
      description:
        'JWT of a Pingstreams user (Owner, Administrator or Agent), with or without the "JWT " prefix. Agents only see requests they take part in or are eligible for.',
    },
    {
      displayName: 'Endpoint',
      name: 'endpoint',
      type: 'string',
      default: 'wss://eu.rtmv3.pingstreams.com/api/',
      required: true,
      placeholder: 'wss://eu.rtmv3.pingstreams.com/api/',
      description:
        'WebSocket URL of the Realtime API. Other regions and self-hosted servers use another host, and often the path "/".',
    },
    {
      displayName: 'Allow Unencrypted Connection',
      name: 'allowInsecure',
      type: 'boolean',
      default: false,
      description:
        'Whether to allow a ws:// endpoint on another machine. The token then travels in clear text: only for a trusted private network. Loopback addresses (127.0.0.1, localhost) are always allowed.',
    },
  ];
}
