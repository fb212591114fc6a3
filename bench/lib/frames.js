'use strict';
// The frames the bench publishes, shared by the publisher thread and the in-process profile.

/** A request shaped like the server's (about 700 bytes of JSON); element n, change number seq. */
function requestFrame(topic, n, seq, method) {
  const id = (0x5eb4fc911f9e1f0000000000n + BigInt(n)).toString(16);
  const t = process.hrtime.bigint();
  // Every change has its own updatedAt, as on the server.
  const at = new Date(1_700_000_000_000 + seq).toISOString();
  return (
    `{"action":"publish","payload":{"topic":"${topic}","method":"${method}","message":{"_id":"${id}","id":"${id}",` +
    `"request_id":"support-group-${id}","status":${n % 3 ? 200 : 100},"preflight":false,"participants":["5eb45fb21f9e1f0012d62203"],` +
    `"requester":"5eb4fc901f9e1f0012d62301","lead":{"_id":"5eb4fc901f9e1f0012d62301","fullname":"Customer ${n % 1000}","email":"customer@example.com"},` +
    `"first_text":"Hello, my order #${n} has not arrived yet. Can you help me?","department":"5eb45fbc1f9e1f0012d62209",` +
    `"id_project":"5eb45fbc1f9e1f0012d62207","createdBy":"5eb4fc901f9e1f0012d62301","tags":[],"notes":[],"channel":{"name":"chat21"},` +
    `"createdAt":"2023-11-14T22:13:20.000Z","updatedAt":"${at}","__v":${seq},"t":${t}}}}`
  );
}

module.exports = { requestFrame };
