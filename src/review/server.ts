import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { Catalog, CatalogBusyError } from '../catalog/catalog.js';
import { runningBuild } from '../catalog/build-marker.js';
import { latestRunId, runPixelLimitOf, useRun } from '../catalog/run-view.js';
import { ImgsiftError, UsageError, errorMessage } from '../errors.js';
import { ReviewContext } from './api/context.js';
import { facets } from './api/facets.js';
import { filterFromQuery, intParam } from './api/filters.js';
import { buildGridIndex } from './api/grid.js';
import { HttpError, readJson, sendBytes, sendJson } from './api/http.js';
import { pairs } from './api/pairs.js';
import { MAX_PAGE, sampleDetail, samplePage, samplePosition, sortParam } from './api/samples.js';
import { DecisionBody, ResolveBody, TagsBody, UndoBody, postDecision, postResolve, postTags, postUndo, type Who } from './api/writes.js';
import { generateToken, hostAllowed, isLoopbackHost, originAllowed, presentedToken, reviewerOfToken, tokenCookie } from './auth.js';
import { LIMITS } from './limits.js';
import { loadTaxonomy } from './taxonomy.js';
import { Thumbnailer, ThumbnailError, placeholderSvg } from './thumbs.js';
import { APP_CSS, APP_HTML, APP_JS } from './ui/app.js';

export interface ReviewServerOptions {
  /** The workdir whose catalog is reviewed. */
  workdir: string;
  /** Port to listen on; 0 picks a free one. Default 8765. */
  port?: number;
  /** Address to bind. Default 127.0.0.1; any non-loopback address turns the access token on. */
  host?: string;
  /** Who changes are recorded as when the browser does not say. Default: the OS user name. */
  reviewer?: string;
  /** Require the token even on a loopback bind (tests, shared machines). */
  requireToken?: boolean;
  /** The token to require (default: a new random one). It names `reviewer`. */
  token?: string;
  /**
   * One token per reviewer (token → name, e.g. from a token file, see auth.ts parseTokenFile):
   * each request's changes are recorded under its token's name. Turns the token on.
   */
  tokens?: ReadonlyMap<string, string>;
  /** Review this run instead of the newest finished one. */
  runId?: number;
  /** Progress lines (indexing), e.g. to stderr. */
  log?: (line: string) => void;
}

export interface ReviewServer {
  /** Where to open the app (with `?token=` when a token is required). */
  url: string;
  host: string;
  port: number;
  /** The access token, when one single token is required. */
  token?: string;
  /**
   * In token mode, who changes are recorded as, by token: the page cannot choose a name then,
   * so history cannot be forged. Empty off token mode.
   */
  reviewers: string[];
  runId: number;
  /** Samples of the run under review. */
  samples: number;
  /**
   * The server's catalog: shared mode, so it holds the file only while answering (builds and
   * other commands can open the workdir meanwhile). Use it rather than opening another in-process.
   */
  catalog: Catalog;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 8765;

/**
 * Start the review app: open the workdir's catalog in shared mode (the file is attached only
 * while a request is answered, see Catalog's `shared`), snapshot the run for fast grid queries,
 * and serve the single-page app and its JSON API. While a build runs on the workdir, requests that
 * need the catalog answer 503 with `building: true`; when a newer run has finished, the snapshot
 * moves to it (`/api/status`, polled by the app).
 */
export async function startReviewServer(options: ReviewServerOptions): Promise<ReviewServer> {
  const workdir = resolve(options.workdir);
  const host = options.host ?? '127.0.0.1';
  const reviewer = options.reviewer ?? safeUserName();
  const tokenRequired = options.requireToken === true || !isLoopbackHost(host) || options.tokens !== undefined;
  const token = tokenRequired && !options.tokens ? options.token ?? generateToken() : undefined;
  // In token mode each token names its reviewer; the single token names the server's reviewer.
  const tokens: ReadonlyMap<string, string> | undefined = options.tokens ?? (token ? new Map([[token, reviewer]]) : undefined);
  if (tokens && tokens.size === 0) throw new UsageError('no access tokens given');
  const log = options.log ?? (() => undefined);

  const catalog = await Catalog.open(workdir, { shared: true });
  let server: Server | undefined;
  try {
    const runId = options.runId ?? (await latestRunId(catalog));
    if (runId === undefined) throw new UsageError(`the catalog in ${workdir} has no runs yet; run \`imgsift build\` first`);
    await useRun(catalog, runId);
    const t0 = Date.now();
    const samples = await buildGridIndex(catalog, runId);
    log(`indexed ${samples} samples of run ${runId} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const thumbs = new Thumbnailer(catalog, workdir);
    thumbs.setRunLimit(await runPixelLimitOf(catalog, runId));
    const ctx = new ReviewContext(catalog, runId, thumbs, await loadTaxonomy(catalog), reviewer);
    const follow = options.runId === undefined;
    // One look for a newer run at a time. A build that starts meanwhile takes the catalog's writer
    // lock and the look waits for it, so the status answer waits at most FOLLOW_WAIT_MS: the page
    // polls again only after an answer, and must still learn that the build is running.
    let following: Promise<void> | undefined;
    statusOf.set(ctx, async () => {
      if (follow && !runningBuild(workdir)) {
        following ??= followNewRun(ctx, log)
          .catch((err) => log(`looking for a newer run failed: ${errorMessage(err)}`))
          .finally(() => (following = undefined));
        await Promise.race([following, new Promise((r) => setTimeout(r, FOLLOW_WAIT_MS).unref())]);
      }
      const build = runningBuild(workdir);
      return { building: build ? { pid: build.pid, started: build.started } : null, runId: ctx.runId };
    });

    server = createServer((req, res) => {
      handle(ctx, req, res, { host, port: portOf(server!), tokens }).catch((err) => fail(res, err));
    });
    server.keepAliveTimeout = 30_000;
    await listen(server, options.port ?? DEFAULT_PORT, host);
    const port = portOf(server);
    const shownHost = host.includes(':') ? `[${host}]` : host;
    const base = `http://${shownHost}:${port}/`;
    const s = server;
    return {
      url: token ? `${base}?token=${token}` : base,
      host, port, token, runId, samples, catalog, reviewers: tokens ? [...new Set(tokens.values())] : [],
      close: () =>
        new Promise<void>((done) => {
          s.close(() => {
            catalog.close();
            done();
          });
          s.closeAllConnections();
        }),
    };
  } catch (err) {
    server?.close();
    catalog.close();
    throw err;
  }
}

/** How long a status answer waits for the look for a newer run (see startReviewServer). */
const FOLLOW_WAIT_MS = 1000;

const statusOf = new WeakMap<ReviewContext, () => Promise<{ building: unknown; runId: number }>>();

/** After a build: review the newest finished run (snapshot rebuilt, caches dropped). */
async function followNewRun(ctx: ReviewContext, log: (line: string) => void): Promise<void> {
  const latest = await latestRunId(ctx.catalog);
  if (latest === undefined || latest <= ctx.runId) return;
  const status = await ctx.catalog.one<{ status: string }>(`SELECT status FROM runs WHERE id = ?`, [latest]);
  if (status?.status !== 'finished') return;
  await useRun(ctx.catalog, latest);
  ctx.thumbs.setRunLimit(await runPixelLimitOf(ctx.catalog, latest));
  const n = await buildGridIndex(ctx.catalog, latest);
  ctx.runId = latest;
  ctx.sortedViews.clear();
  ctx.changed();
  log(`a build finished: now reviewing run ${latest} (${n} samples)`);
}

interface Binding {
  host: string;
  port: number;
  /** Token → reviewer name, in token mode. */
  tokens?: ReadonlyMap<string, string>;
}

const HTML_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async function handle(ctx: ReviewContext, req: IncomingMessage, res: ServerResponse, b: Binding): Promise<void> {
  if (!hostAllowed(req, b.host, b.port)) throw new HttpError(421, 'this server does not answer to that Host');
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  const method = req.method ?? 'GET';

  const who: Who = {};
  if (b.tokens !== undefined) {
    // A first visit with ?token= stores it in a cookie and drops it from the address bar (the
    // rest of the query, the app's view, stays).
    const fromQuery = url.searchParams.get('token');
    if (path === '/' && method === 'GET' && fromQuery !== null && reviewerOfToken(b.tokens, fromQuery) !== undefined) {
      const rest = new URLSearchParams(url.searchParams);
      rest.delete('token');
      const location = rest.size ? `/?${rest}` : '/';
      res.writeHead(302, { Location: location, 'Set-Cookie': tokenCookie(fromQuery), 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    who.fixed = reviewerOfToken(b.tokens, presentedToken(req));
    if (who.fixed === undefined) {
      throw new HttpError(401, 'access token required: open the address `imgsift review` printed (it ends in ?token=...)');
    }
  }

  if (method === 'POST') {
    if (!originAllowed(req)) throw new HttpError(403, 'cross-site request refused');
    switch (path) {
      case '/api/decisions':
        return sendJson(res, 200, await postDecision(ctx, await readJson(req, DecisionBody), who));
      case '/api/tags':
        return sendJson(res, 200, await postTags(ctx, await readJson(req, TagsBody), who));
      case '/api/resolve':
        return sendJson(res, 200, await postResolve(ctx, await readJson(req, ResolveBody), who));
      case '/api/undo':
        return sendJson(res, 200, await postUndo(ctx, await readJson(req, UndoBody), who));
    }
    throw new HttpError(404, `no such endpoint: POST ${path}`);
  }
  if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, `method ${method} is not allowed`);

  const q = url.searchParams;
  switch (path) {
    case '/':
    case '/index.html':
      return sendBytes(res, 200, APP_HTML, 'text/html; charset=utf-8', { 'Content-Security-Policy': HTML_CSP, 'Cache-Control': 'no-store' });
    case '/app.js':
      return sendBytes(res, 200, APP_JS, 'text/javascript; charset=utf-8', { 'Cache-Control': 'no-cache' });
    case '/app.css':
      return sendBytes(res, 200, APP_CSS, 'text/css; charset=utf-8', { 'Cache-Control': 'no-cache' });
    case '/api/status':
      return sendJson(res, 200, await statusOf.get(ctx)!());
    case '/api/info':
      return sendJson(res, 200, {
        runId: ctx.runId, reviewer: who.fixed ?? ctx.defaultReviewer, reviewerFixed: who.fixed !== undefined, workdir: ctx.catalog.path,
        limits: LIMITS,
        samples: await ctx.catalog.scalar(`SELECT count(*) FROM review_grid`),
      });
    case '/api/samples': {
      const offset = intParam(q, 'offset', 0, 0, 1e9);
      const limit = intParam(q, 'limit', 100, 1, MAX_PAGE);
      return sendJson(res, 200, await samplePage(ctx, filterFromQuery(q, ['offset', 'limit', 'sort']), offset, limit, sortParam(q)));
    }
    case '/api/position': {
      // Where a sample is in a sorted, filtered view: the app reopens a sample from the URL.
      const id = q.get('id');
      if (!id) throw new HttpError(400, 'give the sample as ?id=');
      return sendJson(res, 200, { id, index: await samplePosition(ctx, filterFromQuery(q, ['id', 'sort']), sortParam(q), id) });
    }
    case '/api/facets':
      return sendJson(res, 200, await facets(ctx, filterFromQuery(q)));
    case '/api/pairs': {
      const type = q.get('type');
      if (type !== 'duplicate' && type !== 'leak') throw new HttpError(400, `type must be duplicate or leak (got '${type ?? ''}')`);
      return sendJson(res, 200, await pairs(ctx, type, intParam(q, 'offset', 0, 0, 1e9), intParam(q, 'limit', 50, 1, MAX_PAGE)));
    }
    case '/api/taxonomy':
      return sendJson(res, 200, { tags: ctx.taxonomy.list(), actions: ['keep', 'remove', 'relabel'] });
  }
  const sub = (prefix: string): string | null => (path.startsWith(prefix) && path.length > prefix.length ? decodeId(path.slice(prefix.length)) : null);
  let id: string | null;
  if ((id = sub('/api/samples/')) !== null) return sendJson(res, 200, await sampleDetail(ctx, id));
  if ((id = sub('/thumb/')) !== null) {
    const sampleId = id;
    return sendImage(res, () => ctx.thumbs.thumbnail(sampleId), true);
  }
  if ((id = sub('/image/')) !== null) {
    const sampleId = id;
    return sendImage(res, () => ctx.thumbs.fullImage(sampleId), false);
  }
  throw new HttpError(404, `not found: ${path}`);
}

/** A path segment back to the sample id it encodes (ids may contain '/', sent as %2F). */
function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'malformed percent-encoding in the path');
  }
}

async function sendImage(
  res: ServerResponse,
  get: () => Promise<{ body: Buffer; contentType: string } | null>,
  placeholder: boolean,
): Promise<void> {
  const headers = { 'Content-Security-Policy': "default-src 'none'; sandbox", 'Cache-Control': 'private, max-age=3600' };
  try {
    const img = await get();
    if (!img) throw new HttpError(404, 'no such sample, or it has no image file');
    sendBytes(res, 200, img.body, img.contentType, headers);
  } catch (err) {
    if (!(err instanceof ThumbnailError)) throw err;
    // An undecodable image is a finding, not a server error: show why in place of the picture.
    if (placeholder) sendBytes(res, 200, placeholderSvg(err.message), 'image/svg+xml', { ...headers, 'X-Imgsift-Error': encodeURIComponent(err.message) });
    else throw new HttpError(422, err.message);
  }
}

function fail(res: ServerResponse, err: unknown): void {
  if (err instanceof CatalogBusyError) {
    if (!res.headersSent) sendJson(res, 503, { error: err.message, building: err.building }, );
    return;
  }
  const status = err instanceof HttpError ? err.status : err instanceof UsageError ? 400 : 500;
  if (status === 500) process.stderr.write(`imgsift review: ${errorMessage(err)}\n`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: errorMessage(err) });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((done, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new ImgsiftError(`port ${port} on ${host} is in use; choose another with --port`));
      else if (err.code === 'EADDRNOTAVAIL') reject(new ImgsiftError(`cannot bind ${host}: no such address on this machine`));
      else reject(new ImgsiftError(`cannot listen on ${host}:${port}: ${err.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      done();
    });
  });
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function safeUserName(): string {
  try {
    return userInfo().username || 'reviewer';
  } catch {
    return 'reviewer';
  }
}
