// kill -9 arca in the middle of many concurrent tarball downloads (large ones streamed slowly
// by the upstream), restart it on the same data_dir, and check that everything it serves
// afterwards is exactly what the packuments declare. Repeated at three different moments.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor, withTimeout } from './lib/harness.mjs';
import { startArca } from './lib/arca.mjs';
import { StandinRegistry } from './lib/registry.mjs';
import { generatePackages } from './lib/packages.mjs';
import { request, getJson, sha512Integrity, describeResponse } from './lib/http.mjs';

const MB = 1_000_000;
const SIZES = { 0: 16 * MB, 1: 8 * MB, 2: 5 * MB };
const SLOW_BIG = { chunks: 50, totalMs: 2500 };
const SLOW_SMALL = { chunks: 10, totalMs: 1000 };

const ROUNDS = [
  { label: 'early: 300 ms into the transfers (every fill in progress)', killAt: { ms: 300 } },
  { label: 'middle: 1.8 s in (small fills done, large ones mid-stream)', killAt: { ms: 1800 } },
  { label: 'late: the moment the upstream finished sending the largest tarball', killAt: { sentIndex: 0 } },
];

describe('kill -9 during downloads, restart on the same data_dir', { timeout: 300_000 }, () => {
  const groups = [];
  let standin;
  let arca;
  const packumentIntegrity = new Map(); // "name@version" -> dist.integrity declared via arca

  before(async () => {
    for (let g = 1; g <= ROUNDS.length; g++) {
      groups.push(await generatePackages({
        count: 8, scoped: 2, multiVersion: 0, roots: 8, deps: false, prefix: `crash${g}`, seed: 20 + g, sizes: SIZES,
      }));
    }
    standin = new StandinRegistry();
    for (const set of groups) standin.addPackages(set.packages);
    await standin.start();
    arca = await startArca({ label: 'crash', upstreamUrl: standin.url });
  });

  const slowFor = (pkg) => (pkg.size >= 4 * MB ? SLOW_BIG : SLOW_SMALL);

  // Fetches each package's packument through arca and returns [{pkg, url}] for its tarballs.
  async function tarballTargets(set) {
    const out = [];
    for (const name of set.names) {
      const r = await getJson(`${arca.registry()}${name.replace('/', '%2f')}`, { timeoutMs: 20_000 });
      assert.equal(r.status, 200, `packument ${name}: ${describeResponse(r)}`);
      for (const version of set.versionsOf(name)) {
        const pkg = set.byId.get(`${name}@${version}`);
        const dist = r.json.versions[version]?.dist;
        assert.ok(dist, `${name}@${version} missing from arca's packument`);
        assert.equal(dist.integrity, pkg.integrity, `${name}@${version}: declared integrity`);
        assert.ok(dist.tarball.startsWith(arca.registry()), `tarball URL not at arca: ${dist.tarball}`);
        packumentIntegrity.set(`${name}@${version}`, dist.integrity);
        out.push({ pkg, url: dist.tarball });
      }
    }
    return out;
  }

  // Every tarball of these groups, downloaded through arca now, has the declared bytes.
  async function verifyAll(sets, what) {
    for (const set of sets) {
      const targets = await tarballTargets(set);
      await Promise.all(targets.map(async ({ pkg, url }) => {
        const r = await request(url, { timeoutMs: 60_000 });
        assert.equal(r.status, 200, `${what}: ${pkg.name}@${pkg.version}: ${describeResponse(r)}`);
        assert.ok(r.complete, `${what}: ${pkg.name}@${pkg.version} incomplete: ${describeResponse(r)}`);
        assert.equal(sha512Integrity(r.body), packumentIntegrity.get(`${pkg.name}@${pkg.version}`),
          `${what}: ${pkg.name}@${pkg.version} body does not match the packument's integrity`);
      }));
    }
  }

  ROUNDS.forEach((round, i) => {
    test(`round ${i + 1}: kill -9 ${round.label}`, async (t) => {
      const set = groups[i];
      const previous = groups.slice(0, i);
      // Packuments first (fast), so the kill lands during tarball transfers.
      const fresh = await tarballTargets(set);
      const cached = [];
      for (const s of previous) cached.push(...(await tarballTargets(s)));
      for (const { pkg } of fresh) standin.setTarballBehavior(pkg.name, pkg.version, slowFor(pkg));

      let sentBiggest = null;
      if (round.killAt.sentIndex !== undefined) {
        const big = set.packages.find((p) => p.index === round.killAt.sentIndex);
        sentBiggest = new Promise((resolve) => {
          const onSent = (rec) => {
            if (rec.kind === 'tarball' && rec.name === big.name && rec.version === big.version) {
              standin.events.off('sent', onSent);
              resolve();
            }
          };
          standin.events.on('sent', onSent);
        });
      }

      // Two clients per uncached tarball, one per cached one, all at once.
      const started = Date.now();
      const downloads = [...fresh, ...fresh, ...cached].map(({ pkg, url }) =>
        request(url, { timeoutMs: 60_000 }).then((r) => ({ pkg, r })));

      if (sentBiggest) {
        await withTimeout(sentBiggest, 30_000, 'the upstream to finish sending the largest tarball');
      } else {
        await sleep(round.killAt.ms);
      }
      const killedAfter = Date.now() - started;
      const exit = await arca.kill9();
      assert.equal(exit?.signal, 'SIGKILL', 'arca should have been running until the kill');

      const results = await Promise.all(downloads);
      // Whatever a client received completely before the kill must be correct.
      let completeBefore = 0;
      for (const { pkg, r } of results) {
        if (r.status === 200 && r.complete) {
          completeBefore++;
          assert.equal(sha512Integrity(r.body), pkg.integrity,
            `${pkg.name}@${pkg.version} was delivered complete before the kill but with wrong bytes`);
        }
      }
      const bigDone = results.filter(({ pkg, r }) => pkg.size >= 4 * MB && r.complete && r.status === 200).length;
      t.diagnostic(`round ${i + 1}: killed after ${killedAfter} ms; ${completeBefore}/${results.length} ` +
        `downloads had completed (${bigDone} large)`);

      // Restart on the same data_dir; the upstream is up and fast again.
      standin.clearBehaviors();
      await arca.start();
      await verifyAll([...previous, set], `after kill in round ${i + 1}`);
    });
  });

  test('after a graceful restart and with the upstream stopped, everything is served from arca', async () => {
    const stopped = await arca.stop();
    assert.equal(stopped.code, 0, `arca exit after SIGTERM: ${JSON.stringify(stopped)}`);
    await standin.stop();
    await arca.start();
    await verifyAll(groups, 'offline after graceful restart');
    await waitFor(() => arca.running, { what: 'arca still running' });
  });
});
