import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { RunStore, runsDir } from '../../runs/store.js';
import { print } from '../output.js';

interface ReportArgs {
  run: string;
  'runs-dir'?: string;
  out?: string;
  svg: boolean;
  fidelity?: string;
  json?: boolean;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  builder: (y) =>
    y
      .positional('run', { type: 'string', demandOption: true, describe: 'run name (opnas runs lists them)' })
      .option('runs-dir', { type: 'string', describe: 'folder holding the runs (default: $OPNAS_RUNS_DIR, else ./opnas-runs)' })
      .option('out', { type: 'string', describe: 'the HTML file to write (default: RUN-report.html in the current folder)' })
      .option('svg', { type: 'boolean', default: true, describe: 'also write each chart as an SVG file beside the HTML (FILE-CHART.svg); --no-svg skips them' })
      .option('fidelity', { type: 'string', describe: 'a fidelity measurement to chart (what opnas fidelity --json prints; default: fidelity.json in the run folder, if any)' })
      .example('$0 report mine', 'write mine-report.html (open it in a browser; it needs no network) and its charts as SVG files')
      .example('$0 report mine --out docs/search.html --no-svg', 'the page alone') as never,
  handler: async (argv) => {
    const out = argv.out ?? `${argv.run}-report.html`;
    // check --out before reading the run, so a typo in it fails at once
    const { checkOut, writeReport } = await import('../../runs/report-html.js');
    checkOut(out);
    const store = await RunStore.open(runsDir(argv['runs-dir']), argv.run, { readonly: true });
    const paths = await writeReport(store.data, store.folder, { out, svg: argv.svg, fidelity: argv.fidelity });
    if (argv.json) return print(JSON.stringify(paths, null, 2));
    const n = paths.charts.length;
    print(`wrote ${paths.html} (${n ? `${n} chart${n === 1 ? '' : 's'}: ${paths.charts.join(', ')}` : 'no charts: the run has no scored trial yet'})`);
    if (paths.svg.length) print(`and ${paths.svg.length} SVG file${paths.svg.length === 1 ? '' : 's'}: ${paths.svg.map((p) => p.replace(join(process.cwd(), '/'), '')).join(', ')}`);
  },
};
