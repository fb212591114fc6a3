// Notices that the reader of a piped stdout went away (`pingstreams listen | head -1`) before the next write.
// A process learns of it otherwise only when it writes (EPIPE), which for a quiet topic can be hours later.
// Linux only, through /proc: the processes holding the pipe's read end are found once, then checked every
// second (one readlink each). Elsewhere, or when no reader can be seen, EPIPE on the next write still ends it.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const CHECK_EVERY_MS = 1_000;
/** The reader may start after us (a pipeline starts its processes concurrently): look again this often. */
const FIND_ATTEMPTS = 5;

interface Holder {
  pid: string;
  fd: string;
}

function pipeOf(path: string): string | undefined {
  try {
    const target = readlinkSync(path);
    return target.startsWith('pipe:') ? target : undefined;
  } catch {
    return undefined;
  }
}

/** Every fd of another process that holds `pipe` open for reading. */
function readersOf(pipe: string): Holder[] {
  const readers: Holder[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name) && name !== String(process.pid));
  } catch {
    return readers;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      if (pipeOf(`/proc/${pid}/fd/${fd}`) !== pipe) continue;
      try {
        const flags = /^flags:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
        // Access mode 0 is O_RDONLY: a reader (the writers are us and whoever shares our stdout).
        if (flags !== undefined && (parseInt(flags, 8) & 3) === 0) readers.push({ pid, fd });
      } catch {
        // closed meanwhile
      }
    }
  }
  return readers;
}

/** Calls `onGone` once every reader of the pipe on stdout has closed it. Returns a function that stops watching. */
export function watchStdoutReaders(onGone: () => void): () => void {
  const pipe = process.platform === 'linux' ? pipeOf('/proc/self/fd/1') : undefined;
  if (!pipe) return () => undefined;
  let readers = readersOf(pipe);
  let attempts = 1;
  const timer = setInterval(() => {
    if (readers.length === 0) {
      if (attempts++ >= FIND_ATTEMPTS) return clearInterval(timer);
      readers = readersOf(pipe);
      return;
    }
    readers = readers.filter((r) => pipeOf(`/proc/${r.pid}/fd/${r.fd}`) === pipe);
    if (readers.length === 0) {
      clearInterval(timer);
      onGone();
    }
  }, CHECK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
