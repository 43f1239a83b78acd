// Mocha's spec output, then the one line CI reads: "N passed, N failed, N skipped".
const Mocha = require('mocha');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const { passes, failures, pending } = this.stats;
      // test/run.mjs runs mocha more than once and prints one total line from these files.
      const file = process.env.KES_SUMMARY_FILE;
      if (file) require('node:fs').writeFileSync(file, JSON.stringify({ passes, failures, pending }));
      else process.stdout.write(`\n${passes} passed, ${failures} failed, ${pending} skipped\n`);
    });
  }
}

module.exports = SummaryReporter;
