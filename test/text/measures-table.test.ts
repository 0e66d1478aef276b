import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { KINDS, measuresTable } from '../../bench/lib/text-measures.js';
import { selfDedup } from '../../src/text/dedup.js';

test("README's text-dedup table is the one the planted set gives now (bench/text-measures.ts)", async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const table = measuresTable();
  assert.ok(readme.includes(table), `README.md's table is out of date; replace it with:\n${table}`);
  assert.match(table.split('\n')[0], /embedding \(`method: embedding`\) \|$/);
  assert.equal(table.match(/\| not measured¹ \|/g)?.length, KINDS.length, 'the embedding method is stated as not measured, in every row');
  assert.match(table, /¹ .*needs a real text model.*offline.*tiny test model/);
});

test('the planted set shows what the issue asks of the default measure at 0.85', () => {
  const pairs = (kind: string) => KINDS.find((k) => k.kind.startsWith(kind))!.pairs;
  const removedAt = (kind: string, t: number) => pairs(kind).filter((p) => selfDedup(p, { threshold: t }).removed.length > 0).length;
  assert.equal(removedAt('prompt repeated', 0.85), 0, 'a prompt repeated many times is no near copy of the prompt');
  assert.equal(removedAt('prompt repeated', 0.75), 0);
  assert.equal(removedAt('paraphrase', 0.75), 0, 'paraphrases need the embedding method');
  assert.equal(removedAt('same words', 0.85), pairs('same words').length);
  assert.equal(removedAt('added ", 4k" (long', 0.85), pairs('added ", 4k" (long').length);
});
