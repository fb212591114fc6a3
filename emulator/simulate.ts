// Realistic traffic: requests are created, assigned, discussed and closed; agents come and go.
import { Rng, STATUS } from './model';
import type { Store } from './store';

interface Lifecycle {
  requestId: string;
  requester: string;
  agent?: { userId: string; fullname: string };
  messagesLeft: number;
  agentTurn: boolean;
}

const OPENERS = [
  'Hello, my order has not arrived yet.',
  'Hi, I cannot log in to my account.',
  'Can I change the delivery address of order #%?',
  'I was charged twice for order #%.',
  'Do you ship to Canada?',
  'The app crashes when I open the cart.',
];
const CUSTOMER_LINES = [
  'It is order #%.',
  'Yes, that is right.',
  'Thank you!',
  'Still not working, sorry.',
  'Perfect, thanks a lot.',
];
const AGENT_LINES = [
  'Thanks, let me check that for you.',
  'I have updated it, can you try again?',
  'Could you give me your order number?',
  'Done! Anything else?',
];
const MAX_OPEN = 5;

export class Simulator {
  private timer: NodeJS.Timeout | undefined;
  private readonly open: Lifecycle[] = [];

  constructor(
    private readonly store: Store,
    private readonly projectId: string,
    private readonly agents: Array<{ userId: string; projectUserId: string }>,
    private readonly ratePerSecond: number,
    private readonly rng: Rng,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.step(), Math.max(1, Math.round(1000 / this.ratePerSecond)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One change of the store; exposed so tests can drive the simulation without timers. */
  step(): void {
    try {
      this.advance();
    } catch {
      // Never let a simulated change crash the host (e.g. a project user removed from a custom seed).
    }
  }

  private advance(): void {
    const r = this.rng.next();
    if (r < 0.06 && this.agents.length) {
      const a = this.pick(this.agents);
      const pu = this.store.projectUser(this.projectId, a.projectUserId);
      this.store.updateProjectUser(this.projectId, a.projectUserId, { user_available: !pu.user_available });
      return;
    }
    if (this.open.length === 0 || (this.open.length < MAX_OPEN && r < 0.35)) {
      const text = this.fill(this.pick(OPENERS));
      const req = this.store.createRequest(this.projectId, { first_text: text, status: STATUS.UNASSIGNED });
      this.store.addMessage(this.projectId, req.request_id, { text, senderFullname: 'Customer' });
      this.open.push({
        requestId: req.request_id,
        requester: String(req.requester),
        messagesLeft: 1 + Math.floor(this.rng.next() * 4),
        agentTurn: true,
      });
      return;
    }
    const index = Math.floor(this.rng.next() * this.open.length);
    const life = this.open[index];
    if (!this.store.findRequest(this.projectId, life.requestId)) {
      this.open.splice(index, 1);
      return;
    }
    if (!life.agent) {
      const a = this.pick(this.agents);
      const user = this.store.users.get(a.userId);
      life.agent = { userId: a.userId, fullname: user ? `${user.firstname} ${user.lastname}` : 'Agent' };
      this.store.updateRequest(this.projectId, life.requestId, { status: STATUS.ASSIGNED, participants: [a.userId] });
    } else if (life.messagesLeft > 0) {
      life.messagesLeft--;
      const fromAgent = life.agentTurn;
      life.agentTurn = !life.agentTurn;
      this.store.addMessage(
        this.projectId,
        life.requestId,
        fromAgent
          ? { text: this.fill(this.pick(AGENT_LINES)), sender: life.agent.userId, senderFullname: life.agent.fullname }
          : { text: this.fill(this.pick(CUSTOMER_LINES)), sender: life.requester, senderFullname: 'Customer' },
      );
    } else {
      this.store.closeRequest(this.projectId, life.requestId);
      this.open.splice(index, 1);
    }
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.rng.next() * list.length)];
  }

  private fill(text: string): string {
    return text.replace('%', String(1000 + Math.floor(this.rng.next() * 9000)));
  }
}
