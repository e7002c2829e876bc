import { readFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { initBackend, type BackendChoice } from '../../evaluators/backend.js';
import { loadModel } from '../../evaluators/model-dir/folder.js';
import { loadTexts, type DataFormat } from '../../evaluators/tasks/load.js';
import { computeMetric } from '../../evaluators/tasks/metrics.js';
import { OpnasError } from '../../spaces/base/errors.js';
import { backendOption } from '../options.js';
import { print } from '../output.js';

interface Args {
  dir: string;
  text?: string[];
  pair?: string[];
  file?: string;
  format?: DataFormat | 'lines';
  'text-column'?: string;
  'pair-column'?: string;
  'label-column'?: string;
  header?: boolean;
  encoding?: 'utf8' | 'latin1';
  backend?: BackendChoice;
  json?: boolean;
}

const column = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : v);

export const predictCommand: CommandModule<object, Args> = {
  builder: (y) =>
    // --text repeats: `--text a --text b` is two texts (opnas otherwise keeps the last of a repeated option)
    backendOption(y.parserConfiguration({ 'duplicate-arguments-array': true }))
      .positional('dir', { type: 'string', demandOption: true, describe: 'a model folder (opnas train --out, opnas export --model)' })
      .option('text', { type: 'string', array: true, describe: 'a text to classify (repeat for several)' })
      .option('pair', { type: 'string', array: true, describe: 'the second sentence of each --text, for a sentence-pair model (one --pair per --text, in order)' })
      .option('file', { type: 'string', describe: 'texts to classify: TSV, CSV or JSONL read as the model\'s task reads them (labels, when present, are scored), or any other file one text a line' })
      .option('format', { choices: ['tsv', 'csv', 'jsonl', 'txt', 'lines'] as const, describe: 'format of --file (default: from the extension; .txt and others are one text a line)' })
      .option('text-column', { type: 'string', describe: "text column of --file (default: the model's task's)" })
      .option('pair-column', { type: 'string', describe: 'second text column, for a sentence-pair model' })
      .option('label-column', { type: 'string', describe: "label column of --file (default: the task's; scored when present)" })
      .option('header', { type: 'boolean', describe: 'whether --file has a header row (default: as the task\'s files)' })
      .option('encoding', { choices: ['utf8', 'latin1'] as const, describe: 'text encoding of --file' })
      .example('$0 predict model --text "a gorgeous, witty film"', 'one label and its probabilities')
      .example('$0 predict nli --text "a man sleeps" --pair "a person rests"', 'a sentence-pair model: the second sentence of each text')
      .example('$0 predict model --file data/sst2/test.tsv --json', 'JSON lines, then the accuracy against the file\'s labels')
      .example('cat reviews.txt | $0 predict model', 'one text a line on stdin') as never,
  handler: async (argv) => {
    if (argv.text && argv.file) throw new OpnasError('give either --text or --file, not both');
    if (argv.pair && !argv.text) throw new OpnasError('--pair gives the second sentence of each --text: give --text too');
    if (argv.pair && argv.text && argv.pair.length !== argv.text.length) throw new OpnasError(`give one --pair per --text: ${argv.text.length} --text but ${argv.pair.length} --pair`);
    await initBackend(argv.backend, { log: () => {} });
    let texts: string[];
    let pairs: string[] | undefined;
    let labels: number[] | undefined;
    const loaded = loadModel(argv.dir);
    try {
      const cfg = loaded.config;
      if (argv.text) {
        texts = argv.text.map(String);
        pairs = argv.pair?.map(String);
        if (pairs && !cfg.task.pair) throw new OpnasError('this model classifies single texts, not pairs: drop --pair');
      }
      else if (argv.file) {
        const file = cfg.task.file ?? { textColumn: 'sentence', labelColumn: 'label' };
        const ext = argv.file.toLowerCase().match(/\.(tsv|csv|jsonl|ndjson)$/)?.[1];
        const format = argv.format ?? (ext === 'ndjson' ? 'jsonl' : (ext as DataFormat | undefined)) ?? 'lines';
        const r = loadTexts({
          ...file,
          path: argv.file,
          format,
          ...(argv.header !== undefined ? { header: argv.header } : format !== file.format && file.format !== undefined ? { header: true, columns: undefined } : {}),
          ...(argv.encoding ? { encoding: argv.encoding } : {}),
          textColumn: column(argv['text-column']) ?? file.textColumn,
          textPairColumn: column(argv['pair-column']) ?? file.textPairColumn,
          labelColumn: column(argv['label-column']) ?? file.labelColumn,
          labelMap: cfg.task.labelMap ?? cfg.label2id,
          labelNames: cfg.task.labelNames,
        });
        ({ texts, pairs, labels } = r);
      } else {
        if (process.stdin.isTTY) throw new OpnasError('nothing to classify: give --text, --file, or pipe texts (one a line) on stdin');
        texts = readFileSync(0, 'utf8').split('\n').map((s) => (s.endsWith('\r') ? s.slice(0, -1) : s)).filter((s) => s.trim() !== '');
      }
      if (texts.length === 0) throw new OpnasError('nothing to classify: no texts given');
      if (cfg.task.pair && !pairs) throw new OpnasError(`this model classifies sentence pairs: give --pair with each --text, or --file with --pair-column`);
      const preds = loaded.predict(texts, pairs);
      preds.forEach((p, i) => {
        if (argv.json) print(JSON.stringify({ text: texts[i], ...(pairs ? { pair: pairs[i] } : {}), label: p.label, probs: p.probs, ...(labels ? { gold: cfg.task.labelNames[labels[i]] } : {}) }));
        else print(`${p.label}\t${(100 * p.probs[p.label]).toFixed(1)}%\t${texts[i]}`);
      });
      if (labels) {
        const pred = preds.map((p) => p.index);
        const n = cfg.num_labels;
        const summary = { examples: labels.length, accuracy: computeMetric('accuracy', pred, labels, n), f1: computeMetric('f1', pred, labels, n), mcc: computeMetric('mcc', pred, labels, n), metric: cfg.metric };
        if (argv.json) print(JSON.stringify({ summary }));
        else print(`${labels.length} labelled examples: accuracy ${(100 * summary.accuracy).toFixed(2)}%  f1 ${(100 * summary.f1).toFixed(2)}  mcc ${(100 * summary.mcc).toFixed(2)}  (the task's metric: ${cfg.metric})`);
      }
    } finally {
      loaded.dispose();
    }
  },
};
