/**
 * The import graph of src/ follows the pipeline (scripts/check-imports.ts): checked on the real sources, and
 * shown to catch each kind of violation on small graphs.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importGraph, layerOf, violations } from '../../scripts/check-imports.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

describe('the import direction of src/', () => {
  it('holds for the project: no stage imports a later one', () => {
    const edges = importGraph(SRC);
    expect(edges.length).toBeGreaterThan(300);
    expect(violations(edges)).toEqual([]);
  });

  it('puts every folder of src/ in a layer', () => {
    const files = new Set(importGraph(SRC).flatMap((e) => [e.from, e.to]));
    expect([...files].filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it('catches a stage importing a later one, the model importing anything, a dialect or the CLI out of place', () => {
    expect(
      violations([
        { from: 'entities/user.ts', to: 'apply/commit.ts' },
        { from: 'plan/plan-file.ts', to: 'render/view.ts' },
        { from: 'model/change.ts', to: 'errors.ts' },
        { from: 'entities/catalog.ts', to: 'moodle/database.ts' },
        { from: 'pipeline/plan.ts', to: 'moodle/dialects/embedded.ts' },
        { from: 'cli/commands/plan.ts', to: 'plan/plan-file.ts' },
        { from: 'oddities/x.ts', to: 'model/change.ts' },
      ]),
    ).toEqual([
      'entities/user.ts imports apply/commit.ts: a later stage (apply after entities)',
      'plan/plan-file.ts imports render/view.ts: a later stage (render after plan)',
      'model/change.ts imports errors.ts: src/model/ imports nothing of the project',
      'entities/catalog.ts imports moodle/database.ts: the entity catalogue imports only src/model/',
      'pipeline/plan.ts imports moodle/dialects/embedded.ts: dialects are only imported inside src/moodle/',
      'cli/commands/plan.ts imports plan/plan-file.ts: the CLI runs on the library API, src/index.ts, alone',
      'oddities/x.ts: in no layer of scripts/check-imports.ts (add its folder)',
    ]);
    expect(violations([{ from: 'render/human.ts', to: 'entities/catalog.ts' }])).toEqual([]);
  });
});
