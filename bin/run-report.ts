import { objectiveValue, paretoFront } from '../runs/pareto.js';
import { finalReport, fmtScore, leaderboard, lineage, summary } from '../runs/report.js';
import type { RunFile } from '../runs/types.js';
import { print } from './output.js';

/** Summary, leaderboard, optional Pareto front and the lineage of the best: what search, resume and show print. */
export function printRunReport(run: RunFile, o: { json?: boolean; compact?: boolean; top: number; pareto?: string[] }): void {
  const board = leaderboard(run, { top: o.top });
  const front = o.pareto ? paretoFront(run.trials, o.pareto) : undefined;
  const steps = board.rows.length ? lineage(run).steps : [];
  const final = finalReport(run);
  if (o.json) {
    const f = final && { seeds: final.seeds, complete: final.result.complete, winner: final.result.winner?.id, ...(final.result.lead ? { lead: final.result.lead } : {}), ...(final.result.runnerUp ? { runnerUp: final.result.runnerUp } : {}), rows: final.result.rows };
    return print(JSON.stringify({ name: run.name, status: run.status, summary: summary(run), leaderboard: board.rows, lineage: steps, pareto: front, final: f }, null, o.compact ? undefined : 2));
  }
  print(summary(run).text);
  print();
  print(board.text);
  if (front) {
    print(`\nPareto front (${o.pareto!.join(' vs ')}): ${front.length} trial${front.length === 1 ? '' : 's'}`);
    for (const t of front) print(`  ${t.id.slice(0, 8)}  ${o.pareto!.map((k) => `${k} ${fmtScore(k, objectiveValue(t, k))}`).join('  ')}\n    ${t.formula.replace(/\n/g, '\n    ')}`);
  }
  if (board.rows.length) print('\n' + lineage(run).text);
  if (final) print('\n' + final.text);
  if (final?.result.complete && final.result.winner)
    print(`\nThe winner's genome: opnas export ${run.name} --out winner (its trained scores are in the table above).`);
  else if (board.rows.length && run.config.evaluator === 'supernet')
    print(
      `\nScores are the supernet's (each candidate's inherited weights on a dev subset): they rank, they are not final accuracies.\n` +
        `Train the winner on its own to get its real score:  opnas export ${run.name} --out winner && opnas train winner/genome.json` +
        (typeof run.config.task === 'string' ? ` --task ${run.config.task}` : ' (with the run\'s --train/--dev options)'),
    );
}
