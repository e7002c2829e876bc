import { existsSync } from 'node:fs';
import type { Options } from 'yargs';
import { DEFAULT_DISTILL, DEFAULT_TEACHER, teacherTraining, type DistillConfig } from '../evaluators/supernet/distill.js';
import { DEFAULT_TRAIN, type TrainConfig } from '../evaluators/train.js';
import { BASELINES } from '../spaces/backbone.js';
import { OpnasError } from '../spaces/base/errors.js';
import { readGenomeFile } from '../spaces/registry.js';
import type { BackboneGenome } from '../spaces/types.js';
import { positiveInt } from './options.js';

// train, teacher, search and fidelity all choose a model or a teacher; here so no command imports another

/** A genome file, or the name of a baseline (`bert-tiny`, ...). */
export function resolveArch(arch: string | undefined, baseline: string | undefined): { name: string; genome: BackboneGenome } {
  if (arch && baseline) throw new OpnasError('give either an architecture file or --baseline, not both');
  const name = baseline ?? arch;
  if (!name) throw new OpnasError(`name an architecture: a genome file or --baseline (${Object.keys(BASELINES).join(', ')})`);
  if (Object.hasOwn(BASELINES, name) && !existsSync(name)) return { name, genome: structuredClone(BASELINES[name]) };
  if (baseline) throw new OpnasError(`unknown baseline '${baseline}' (known: ${Object.keys(BASELINES).join(', ')})`);
  const { space, genome } = readGenomeFile(name);
  if (space !== 'backbone') throw new OpnasError(`${name}: ${/^[aeiou]/.test(space) ? 'an' : 'a'} ${space} genome is a part of a model; train needs a backbone genome (opnas sample --space backbone shows one)`);
  return { name, genome };
}

/** Options that choose and train a teacher; `fidelity` takes them with a `teacher-` prefix. */
export type TeacherTrainArgs<P extends string = ''> = { [K in `${P}arch`]: string } & { [K in `${P}steps`]: number } & { [K in `${P}patience`]: number } & { [K in `${P}lr`]: number };

export function teacherTrainOptions(prefix = ''): Record<string, Options> {
  return {
    [`${prefix}arch`]: { type: 'string', default: DEFAULT_TEACHER.arch, describe: 'teacher architecture: a baseline name or a genome file' },
    [`${prefix}steps`]: { type: 'number', default: DEFAULT_TEACHER.steps, describe: 'teacher training steps (at most, with a patience)' },
    [`${prefix}patience`]: {
      type: 'number',
      default: 0,
      describe: 'train the teacher to convergence: stop after this many dev evaluations without a better score and keep the best weights (0: exactly the steps)',
    },
    // a 4-layer, 256-wide teacher (bert-mini) does not learn SST-2 at the default 1e-3 (dev 55.9, chance)
    [`${prefix}lr`]: { type: 'number', default: DEFAULT_TRAIN.lr, describe: 'teacher peak learning rate (larger teachers need less than the default)' },
  };
}

/** The teacher a command's options name: architecture and training settings (the cache key). */
export function defaultTeacher<P extends string>(a: TeacherTrainArgs<P> & { 'max-len': number }, prefix: P): { genome: BackboneGenome; train: Partial<TrainConfig> } {
  const t = teacherChoice(a, prefix);
  return { genome: t.genome, train: teacherTraining(t.steps, a['max-len'], t.patience, t.lr) };
}

/** The teacher's architecture, steps, patience and learning rate (when not the default) as a search saves them in its run.json. */
export function teacherChoice<P extends string>(a: TeacherTrainArgs<P>, prefix: P): { genome: BackboneGenome; steps: number; patience: number; lr?: number } {
  const get = (k: string) => (a as Record<string, unknown>)[`${prefix}${k}`];
  const steps = positiveInt(`${prefix}steps`, get('steps') as number);
  const patience = get('patience') ?? 0;
  if (typeof patience !== 'number' || !Number.isInteger(patience) || patience < 0) throw new OpnasError(`--${prefix}patience must be a whole number >= 0, got ${patience}`);
  const lr = get('lr') ?? DEFAULT_TRAIN.lr;
  if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)) throw new OpnasError(`--${prefix}lr must be a positive number, got ${lr}`);
  // the default rate is left out, as in teacherTraining: what is saved says only what was changed
  return { genome: resolveArch(get('arch') as string, undefined).genome, steps, patience, ...(lr !== DEFAULT_TRAIN.lr ? { lr } : {}) };
}

export interface DistillArgs {
  'kd-temperature': number;
  'kd-logits': number;
  'kd-hidden': number;
  'kd-attention': number;
}

/** The distillation warm-up's loss weights and temperature as options (search and fidelity). */
export function distillOptions(): Record<string, Options> {
  const d = DEFAULT_DISTILL;
  return {
    'kd-temperature': { type: 'number', default: d.temperature, describe: 'warm-up: softmax temperature of the logits loss' },
    'kd-logits': { type: 'number', default: d.logits, describe: 'warm-up: weight of the soft cross-entropy on the teacher logits' },
    'kd-hidden': { type: 'number', default: d.hidden, describe: 'warm-up: weight of the hidden-state MSE (teacher models only)' },
    'kd-attention': { type: 'number', default: d.attention, describe: 'warm-up: weight of the attention-map MSE (teacher models only)' },
  };
}

export function distillFrom(a: DistillArgs): Omit<DistillConfig, 'train' | 'hard'> {
  const weight = (flag: keyof DistillArgs) => {
    const v = a[flag];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new OpnasError(`--${flag} must be a number >= 0, got ${v}`);
    return v;
  };
  const temperature = weight('kd-temperature');
  if (!(temperature > 0)) throw new OpnasError(`--kd-temperature must be positive, got ${temperature}`);
  const w = { logits: weight('kd-logits'), hidden: weight('kd-hidden'), attention: weight('kd-attention') };
  if (w.logits + w.hidden + w.attention === 0) throw new OpnasError('the warm-up needs a loss: --kd-logits, --kd-hidden and --kd-attention are all 0');
  return { temperature, ...w };
}
