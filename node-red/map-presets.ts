// Ready-made JSONata expressions for the "pingstreams map" node. The editor loads them from the runtime
// (GET pingstreams/map-presets) so this file is their only copy. Input is the msg; $event is the whole
// realtime event (data = the request), $previous its state before this event (when known).

export interface MapPreset {
  /** Also the key of its label in locales/en-US/pingstreams-map.json (presets.<id>). */
  id: string;
  expression: string;
}

// Shared JSONata helpers, inlined in each preset so every expression stands alone in the editor.
const HELPERS = `$esc := function($s) { $replace($replace($replace($string($s), "&", "&amp;"), "<", "&lt;"), ">", "&gt;") };
  $clip := function($s, $n) { $length($s) > $n ? $substring($s, 0, $n - 1) & "…" : $s };
  $statusLabel := function($code) {
    $code = 50 ? "temporary" : $code = 100 ? "unassigned" : $code = 150 ? "abandoned" :
    $code = 200 ? "assigned" : $code = 300 ? "served" : $code = 1000 ? "closed" : $string($code)
  };`;

const slackNewRequest = `(
  ${HELPERS}
  $r := $event.data;
  $text := $r.first_text ? $clip($esc($r.first_text), 2900) : "_(no text)_";
  {
    "text": "New support request: " & ($r.first_text ? $clip($r.first_text, 150) : "(no text)"),
    "blocks": [
      { "type": "header", "text": { "type": "plain_text", "text": "New support request" } },
      { "type": "section", "text": { "type": "mrkdwn", "text": $text } },
      { "type": "section", "fields": [
        { "type": "mrkdwn", "text": "*Status*\\n" & $statusLabel($r.status) },
        { "type": "mrkdwn", "text": "*Channel*\\n" & ($r.channel.name ? $esc($r.channel.name) : "unknown") }
      ] },
      { "type": "context", "elements": [
        { "type": "mrkdwn", "text": "Request \`" & $esc($r.request_id) & "\` · created " & ($r.createdAt ? $r.createdAt : $event.receivedAt) }
      ] }
    ]
  }
)`;

const slackClosedRequest = `(
  ${HELPERS}
  $r := $event.data;
  $minutes := ($r.createdAt and $r.updatedAt) ? $round(($toMillis($r.updatedAt) - $toMillis($r.createdAt)) / 60000) : undefined;
  {
    "text": "Request closed: " & ($r.first_text ? $clip($r.first_text, 150) : $r.request_id),
    "blocks": [
      { "type": "header", "text": { "type": "plain_text", "text": "Support request closed" } },
      { "type": "section", "text": { "type": "mrkdwn", "text": $r.first_text ? $clip($esc($r.first_text), 2900) : "_(no text)_" } },
      { "type": "section", "fields": [
        { "type": "mrkdwn", "text": "*Was*\\n" & ($previous ? $statusLabel($previous.status) : "unknown") },
        { "type": "mrkdwn", "text": "*Open for*\\n" & ($exists($minutes) ? $string($minutes) & " min" : "unknown") },
        { "type": "mrkdwn", "text": "*Agents*\\n" & $string($count($r.participants)) }
      ] },
      { "type": "context", "elements": [
        { "type": "mrkdwn", "text": "Request \`" & $esc($r.request_id) & "\` · closed " & ($r.updatedAt ? $r.updatedAt : $event.receivedAt) }
      ] }
    ]
  }
)`;

const requestSummary = `(
  ${HELPERS}
  $r := $event.data;
  {
    "requestId": $r.request_id,
    "id": $r._id,
    "event": $event.method,
    "status": $r.status,
    "statusLabel": $statusLabel($r.status),
    "text": $r.first_text ? $clip($r.first_text, 200) : null,
    "channel": $r.channel.name,
    "participants": $count($r.participants),
    "createdAt": $r.createdAt,
    "updatedAt": $r.updatedAt,
    "changed": $previous ? $filter($keys($r), function($k) { $string($lookup($r, $k)) != $string($lookup($previous, $k)) }) : [],
    "snapshot": $event.snapshot = true,
    "recovered": $event.recovered = true
  }
)`;

export const MAP_PRESETS: readonly MapPreset[] = [
  { id: 'slackNewRequest', expression: slackNewRequest },
  { id: 'slackClosedRequest', expression: slackClosedRequest },
  { id: 'requestSummary', expression: requestSummary },
];
