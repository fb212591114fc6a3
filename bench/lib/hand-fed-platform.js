'use strict';
// A core platform without sockets, for the in-process measures (profile-hot-path.js, count-hot-path.js).

/**
 * A platform whose one socket is fed by hand: subscribe is answered with an empty snapshot. `now` replaces the
 * clock's time (under valgrind a millisecond holds a few frames, not hundreds: a fixed time keeps the per-millisecond
 * work as rare as at full speed).
 */
function handFedPlatform({ now = () => Date.now() } = {}) {
  const fed = {};
  const platform = {
    clock: {
      now,
      setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
      clearTimeout: (handle) => handle && clearTimeout(handle),
    },
    openSocket(_url, _options, events) {
      fed.message = events.message;
      const socket = {
        state: 'connecting',
        bufferedAmount: 0,
        send(text) {
          const frame = JSON.parse(text);
          if (frame.action !== 'subscribe') return;
          const snapshot = {
            action: 'publish',
            payload: { topic: frame.payload.topic, method: 'CREATE', message: [] },
          };
          queueMicrotask(() => events.message(JSON.stringify(snapshot)));
        },
        close() {
          socket.state = 'closed';
          queueMicrotask(() => events.close(1000, ''));
        },
        terminate() {
          socket.state = 'closed';
        },
      };
      setImmediate(() => {
        socket.state = 'open';
        events.open();
      });
      return socket;
    },
  };
  return { platform, fed };
}

module.exports = { handFedPlatform };
