/**
 * A duplicate's or leak's evidence in words, for the review app: "pHash 3 bits after mirroring",
 * "ORB: 312 of 340 matches agree", "exact bytes", "cosine 0.97". Reads what dedup
 * (`signal`, `variants`, `phash`, `inliers`/`matches`), leaks (`method`, `distance`, `similarity`
 * and the matcher's evidence in `leak_pairs`) and imported tools record; unknown shapes fall back
 * to the method and the numbers there are.
 */
type Evidence = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** What the variant names of dedup's matcher mean ('plain/mirror': the second image mirrored). */
function variantWords(variants: string | null, signal: string | null): string {
  const parts = (variants ?? '').split('/');
  const words: string[] = [];
  if (parts.some((p) => p.includes('mirror')) || signal === 'phash_mirrored') words.push('mirroring');
  if (parts.some((p) => p.startsWith('trimmed')) || signal === 'phash_trimmed') words.push('trimming borders');
  if (parts.some((p) => p === 'centre') || signal === 'phash_centre') words.push('cropping to the centre');
  const extra = parts.find((p) => /^(crop|rot|band|extra)/.test(p));
  if (extra) words.push(`the ${extra.replace(/_/g, ' ')} view`);
  return words.length ? ` after ${words.join(' and ')}` : '';
}

const bits = (n: number) => `${n} bit${n === 1 ? '' : 's'}`;

/** One line describing how two images matched. */
export function describeMatch(ev: Evidence): string {
  const signal = str(ev.signal);
  const method = str(ev.matcher_method) ?? str(ev.method);
  const phash = num(ev.phash) ?? num(ev.distance) ?? num(ev.hamming_distance);
  const variants = str(ev.variants);
  if (signal === 'sha256' || method === 'sha256') return 'exact bytes (same SHA-256)';
  if (signal === 'pixels' || method === 'pixels') return 'same pixels (different file bytes)';
  if (method === 'exact' && (phash === null || phash === 0)) return 'exact copy';
  const inliers = num(ev.inliers);
  const matches = num(ev.matches);
  if ((signal === 'geometric' || method === 'geometric') && inliers !== null && matches !== null) {
    const ph = phash !== null ? `; pHash ${bits(phash)}${variantWords(variants, signal)}` : '';
    return `ORB: ${inliers} of ${matches} matches agree${ph}`;
  }
  if (signal === 'aligned') {
    const regions = num(ev.regions);
    const agree = num(ev.agree);
    const angle = num(ev.angle);
    const scale = num(ev.scale);
    const pose = [angle !== null && Math.abs(angle) >= 0.05 ? `rotated ${angle.toFixed(1)}°` : null, scale !== null && Math.abs(scale - 1) >= 0.005 ? `scaled ×${scale.toFixed(2)}` : null]
      .filter(Boolean).join(', ');
    const head = agree !== null && regions !== null ? `aligned: ${agree} of ${regions} regions agree` : 'aligned by feature matching';
    return pose ? `${head} (${pose})` : head;
  }
  const model = str(ev.model);
  const similarity = num(ev.similarity);
  if (method === 'semantic' || model) return `cosine ${similarity !== null ? similarity.toFixed(2) : '?'}${model ? ` (${model})` : ''}`;
  if (phash !== null && (signal?.startsWith('phash') || signal === 'matcher' || method === 'perceptual' || method?.startsWith('phash'))) {
    return `pHash ${bits(phash)}${variantWords(variants, signal ?? method)}`;
  }
  const parts = [method ?? signal ?? 'matched'];
  if (phash !== null) parts.push(`distance ${phash}`);
  if (similarity !== null) parts.push(`similarity ${(similarity * 100).toFixed(1)}%`);
  return parts.join(', ');
}
