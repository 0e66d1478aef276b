import type { Command } from 'commander';
import { EXIT, UsageError } from '../errors.js';
import type { DecisionAction, SampleFilter } from '../review/decisions.js';
import { action, type CliState } from './common.js';

interface TagFlags {
  workdir?: string;
  where: string;
  add?: string;
  action?: string;
  newLabel?: string;
  reviewer: string;
  json?: boolean;
}

/**
 * `--where` in the review API's filter language: its query-string form
 * (`issue=mislabel&source=visual_layer&scoreMin=0.9`) or its JSON form (`{"issue":"mislabel",...}`).
 */
export async function parseWhere(where: string): Promise<SampleFilter> {
  const { filterFromQuery, parseFilter } = await import('../review/api/filters.js');
  const text = where.trim();
  try {
    return text.startsWith('{') ? parseFilter(JSON.parse(text)) : filterFromQuery(new URLSearchParams(text));
  } catch (err) {
    throw new UsageError(`--where: ${(err as Error).message}`);
  }
}

/** `imgsift tag`: seed 002's batch tagging (add_user_tags_batch) from the shell. */
export function registerTag(program: Command, state: CliState): void {
  // The review actions and accept_suggestion (review/taxonomy.ts, review/decisions.ts), written out so --help loads neither.
  const actions = ['keep', 'remove', 'relabel', 'accept_suggestion', 'accept-suggestion'];
  program
    .command('tag')
    .description('tag and decide for every sample a filter selects (the review API filter language), recorded with a reviewer')
    .requiredOption('--where <filter>', "samples: 'issue=mislabel&source=visual_layer&scoreMin=0.9' or JSON; 'ids=a,b' names samples")
    .option('--add <tags>', 'comma-separated tags to add (the review taxonomy)')
    .option('--action <action>', `decide too: ${actions.join(' | ')}`)
    .option('--new-label <label>', "the label for --action relabel")
    .requiredOption('--reviewer <name>', 'who made the change (stored with it)')
    .option('--workdir <dir>', 'catalog folder (default: .imgsift, else the current folder)')
    .option('--json', 'print the result as JSON')
    .action(
      action(state, async (flags: TagFlags) => {
        const { Catalog } = await import('../catalog/catalog.js');
        const { findWorkdir } = await import('../report/workdir.js');
        const { ACCEPT_SUGGESTION, addTags, setDecision } = await import('../review/decisions.js');
        const filter = await parseWhere(flags.where);
        const tags = (flags.add ?? '').split(',').map((t) => t.trim()).filter(Boolean);
        const act = flags.action === 'accept-suggestion' ? ACCEPT_SUGGESTION : flags.action;
        if (act !== undefined && !actions.includes(act)) throw new UsageError(`--action must be one of ${actions.join(', ')} (got '${act}')`);
        if (!tags.length && act === undefined) throw new UsageError('give --add TAGS, --action ACTION, or both');
        const catalog = await Catalog.open(findWorkdir(flags.workdir));
        try {
          const r = tags.length
            ? await addTags({ catalog, filter, tags, action: act as DecisionAction | undefined, newLabel: flags.newLabel, reviewer: flags.reviewer })
            : await setDecision({ catalog, filter, action: act as DecisionAction, newLabel: flags.newLabel, reviewer: flags.reviewer });
          if (flags.json) process.stdout.write(JSON.stringify(r) + '\n');
          else {
            process.stdout.write(`imgsift tag: ${r.matched} sample(s) matched, ${r.changed} changed${r.skipped ? `, ${r.skipped} without a suggested label (left as they were)` : ''}\n`);
          }
          return r.matched === 0 ? EXIT.attention : EXIT.ok;
        } finally {
          catalog.close();
        }
      }),
    );
}
