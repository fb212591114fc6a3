// Runs the projects one after the other, unit, integration, then e2e (opt-in projects last), each in jest's own
// order (failed first, then the longest). On a new machine .ci/run fills the e2e cache in the background (about
// 10 minutes): the fast projects run meanwhile, instead of the first e2e suite waiting for it ahead of them.
// One jest run, so one summary of failures at the end.
const Sequencer = require('@jest/test-sequencer').default;

const ORDER = ['unit', 'integration', 'e2e'];

function rank(test) {
  const name = test.context.config.displayName;
  const index = ORDER.indexOf(typeof name === 'string' ? name : name?.name);
  return index < 0 ? ORDER.length : index;
}

class ProjectOrderSequencer extends Sequencer {
  async sort(tests) {
    const sorted = await super.sort([...tests]);
    return sorted.sort((a, b) => rank(a) - rank(b)); // stable: jest's order within a project stays
  }
}

module.exports = ProjectOrderSequencer;
