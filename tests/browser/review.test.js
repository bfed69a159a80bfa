// review.test.js -- the review page in a real headless Chromium (Debian's), driven by
// playwright-core: `mapillary review` writes a page of 1,000 sequences whose
// thumbnails come from a local HTTP server (real JPEGs, one expired link); the test
// decides every sequence with the keyboard alone, reloads, saves, and reads the saved
// GeoJSON back with `mapillary`. It also takes the page's screenshot and checks that
// its thumbnails are pictures, not broken-image icons.
//
//   node review.test.js   (env: MLY_BINARY, MLY_WORK, MLY_NODE_MODULES, MLY_CHROMIUM)
'use strict';
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const binary = process.env.MLY_BINARY;
const work = process.env.MLY_WORK;
const { chromium } = require(path.join(process.env.MLY_NODE_MODULES, 'playwright-core'));
const executablePath = process.env.MLY_CHROMIUM || '/usr/bin/chromium';
const N = 1000;

let checks = 0;
function passed(what) { checks++; console.log(`ok ${checks} - ${what}`); }
function check(what, fn) { fn(); passed(what); }
function log(s) { console.log(`# ${s}`); }

// ---- a deterministic input: 1,000 sequences as create_custom_sequences writes them ----
function mulberry32(a) {
  return () => {
    a |= 0; a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const HOSTILE = 5; // a sequence id that tries to end the page's script
const EXPIRED = 2; // a sequence with one expired thumbnail link
function makeInput(base) {
  const rnd = mulberry32(15);
  const features = [];
  for (let i = 0; i < N; i++) {
    const cx = -108.60 + (i % 40) * 0.004, cy = 39.02 + Math.floor(i / 40) * 0.0032;
    const n = 3 + Math.floor(rnd() * 10);
    let x = cx + rnd() * 0.002, y = cy + rnd() * 0.002;
    const coords = [];
    const dir = rnd() * Math.PI * 2;
    for (let j = 0; j < n; j++) {
      coords.push([Math.round(x * 1e7) / 1e7, Math.round(y * 1e7) / 1e7]);
      x += Math.cos(dir + (rnd() - 0.5)) * 0.0003; y += Math.sin(dir + (rnd() - 0.5)) * 0.0003;
    }
    const start = 1651366800000 + i * 3600000;
    const urls = [0, 1, 2, 3, 4].map((j) => `${base}/img/${i}_${j}.jpg?stp=dst-jpg&oe=7FFFFFFF`);
    if (i === EXPIRED) urls[2] = `${base}/expired/${i}_2.jpg?oe=5F000000`;
    features.push({
      type: 'Feature',
      properties: {
        sequence_id: i === HOSTILE ? '</script><script>window.pwned=1</script>' : `seq${String(i).padStart(4, '0')}xK${i * 7919}`,
        is_pano: i % 11 === 0,
        organization_id: '1805883732926354',
        total_points: n,
        captured_at_start: start,
        captured_at_end: start + n * 2000,
        images_id: Array.from({ length: n }, (_, j) => String(4000000000000000 + i * 100 + j)).join(','),
        custom_url: urls[0],
        custom_urls: urls.slice(1).join(','),
      },
      geometry: { type: 'LineString', coordinates: coords },
    });
  }
  return { type: 'FeatureCollection', features };
}
function haversine(a, b) {
  const r = Math.PI / 180, dl = (b[1] - a[1]) * r, dn = (b[0] - a[0]) * r;
  const h = Math.sin(dl / 2) ** 2 + Math.cos(a[1] * r) * Math.cos(b[1] * r) * Math.sin(dn / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(h));
}
function lengthText(coords) {
  let m = 0;
  for (let i = 1; i < coords.length; i++) m += haversine(coords[i - 1], coords[i]);
  return m >= 1000 ? (m / 1000).toFixed(2) + ' km' : Math.round(m) + ' m';
}

// ---- the thumbnails: real JPEGs, made by the browser's own encoder ----
async function makeJpegs(browser) {
  const page = await browser.newPage();
  const urls = await page.evaluate(() => {
    const out = [];
    for (let k = 0; k < 8; k++) {
      const c = document.createElement('canvas');
      c.width = 480; c.height = 360;
      const g = c.getContext('2d');
      const sky = g.createLinearGradient(0, 0, 0, 180);
      sky.addColorStop(0, `hsl(${200 + k * 5}, 70%, ${55 + k}%)`); sky.addColorStop(1, '#e8eef2');
      g.fillStyle = sky; g.fillRect(0, 0, 480, 180);
      g.fillStyle = `hsl(${90 + k * 8}, 30%, 42%)`; g.fillRect(0, 180, 480, 180);
      g.fillStyle = '#5b5f63';
      g.beginPath(); g.moveTo(220, 180); g.lineTo(260, 180); g.lineTo(420 - k * 10, 360); g.lineTo(60 + k * 10, 360); g.fill();
      g.fillStyle = '#f2f2f2'; g.fillRect(238, 240, 4, 30); g.fillRect(236, 300, 8, 40);
      for (let b = 0; b < 4; b++) {
        g.fillStyle = `hsl(${(k * 45 + b * 70) % 360}, 45%, ${45 + b * 6}%)`;
        const h = 60 + ((k * 37 + b * 53) % 90);
        g.fillRect(b < 2 ? b * 90 : 300 + (b - 2) * 90, 180 - h, 80, h + 20);
      }
      g.fillStyle = '#fff'; g.font = 'bold 28px sans-serif'; g.fillText(`#${k}`, 12, 36);
      out.push(c.toDataURL('image/jpeg', 0.85));
    }
    return out;
  });
  await page.close();
  return urls.map((u) => Buffer.from(u.split(',')[1], 'base64'));
}

function serve(jpegs) {
  const hits = { img: 0, expired: 0 };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    let m = /^\/img\/(\d+)_(\d)\.jpg$/.exec(u.pathname);
    if (m) {
      hits.img++;
      const body = jpegs[(Number(m[1]) * 5 + Number(m[2])) % jpegs.length];
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': body.length });
      return res.end(body);
    }
    if (u.pathname.startsWith('/expired/')) { // what a signed CDN link says once it has expired
      hits.expired++;
      res.writeHead(403, { 'Content-Type': 'text/plain' });
      return res.end('URL signature expired');
    }
    res.writeHead(404); res.end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, hits })));
}

function run(args) {
  const r = spawnSync(binary, args, { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

async function thumbsLoaded(page) {
  await page.waitForFunction(() => [...document.querySelectorAll('#thumbs img')].every((i) => i.complete));
  return page.$$eval('#thumbs img', (imgs) => imgs.map((i) => i.naturalWidth));
}
const text = (page, sel) => page.$eval(sel, (e) => e.textContent);

async function main() {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  let server;
  try {
    const jpegs = await makeJpegs(browser);
    check('the thumbnails are JPEGs', () => {
      for (const j of jpegs) { assert.equal(j.readUInt16BE(0), 0xffd8); assert.equal(j.readUInt16BE(j.length - 2), 0xffd9); }
    });
    const s = await serve(jpegs);
    server = s.server;
    const base = `http://127.0.0.1:${server.address().port}`;
    const input = makeInput(base);
    const inPath = path.join(work, 'sequences.geojson');
    fs.writeFileSync(inPath, JSON.stringify(input));
    const pagePath = path.join(work, 'out', 'review.html');

    let r = run(['review', `--geojson_input=${inPath}`, `--review_html=${pagePath}`]);
    check('mapillary review writes the page', () => assert.equal(r.status, 0, r.stderr));
    const html = fs.readFileSync(pagePath, 'utf8');
    check('the page is one file: no script, style or frame from elsewhere', () => {
      assert.doesNotMatch(html, /<(script|link|iframe)[^>]+(src|href)=/i);
      assert.doesNotMatch(html, /@import/);
      assert.equal(html.match(/<script/g).length, 2);
    });

    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const requests = [];
    page.on('request', (q) => requests.push(q.url()));
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto('file://' + pagePath);

    assert.match(await text(page, '#counts'), /decided 0 .*left 1000 of 1000/s);
    passed('it opens from disk and counts 1,000 sequences left');
    const f0 = input.features[0];
    assert.equal(await text(page, '#sid'), f0.properties.sequence_id);
    assert.equal(await text(page, '#points'), `${f0.properties.total_points} points`);
    assert.equal(await text(page, '#length'), lengthText(f0.geometry.coordinates));
    const iso = (ms) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
    assert.equal(await text(page, '#dates'),
      `${iso(f0.properties.captured_at_start)} – ${iso(f0.properties.captured_at_end).slice(11)} UTC`);
    passed('the first sequence: id, points, length, dates');
    let widths = await thumbsLoaded(page);
    check('its five review images load as pictures (naturalWidth > 0)', () => {
      assert.equal(widths.length, 5);
      for (const w of widths) assert.equal(w, 480);
    });
    assert.equal(await page.$$eval('#map path[data-i]', (p) => p.length), N);
    assert.equal(await page.$$eval('#map path.cur', (p) => p.map((e) => e.dataset.i)).then((a) => a.join()), '0');

    passed('the map draws every sequence, the current one highlighted');
    // ---- keyboard only from here ----
    const kb = page.keyboard;
    await kb.press('y');
    assert.equal(await text(page, '#pos'), `2 of ${N}`);
    await kb.press('x');
    assert.equal(await text(page, '#pos'), `3 of ${N}`);
    passed('y keeps and x drops, each moving on');
    // sequence 2: one link has expired
    await page.waitForSelector('#thumbs .broken');
    widths = await thumbsLoaded(page);
    const notice = await page.$eval('#notice', (n) => (n.hidden ? '' : n.textContent));
    const broken = await text(page, '#thumbs .broken');
    check('an expired link: the image says so, and the page says how to refresh', () => {
      assert.deepEqual(widths, [480, 480, 480, 480]);
      assert.match(broken, /link may have expired/);
      assert.match(notice, /1 image did not load/);
      assert.match(notice, /rerun/i);
    });
    await kb.press('j');
    await kb.press('d');
    await kb.press('ArrowLeft');
    await kb.press('k');
    assert.equal(await text(page, '#pos'), `3 of ${N}`);
    assert.equal(await text(page, '#state'), 'undecided');
    passed('j / ArrowLeft / k move without deciding');
    await kb.press('f');
    assert.equal(await page.$eval('#filter', (s) => s.value), 'undecided');
    await kb.press('Enter');
    assert.equal(await text(page, '#pos'), `5 of ${N}`);
    passed('f filters to the undecided ones; Enter keeps');
    await kb.press('End');
    assert.equal(await text(page, '#pos'), `${N} of ${N}`);
    await kb.press('Home');
    assert.equal(await text(page, '#pos'), `5 of ${N}`);
    passed('Home and End go to the first and last in the filter');
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    assert.equal(await text(page, `#list li[data-i="${HOSTILE}"] .sid`), input.features[HOSTILE].properties.sequence_id);
    passed('a hostile sequence id is shown as text, not run');

    // the rest, in order, with one key each: drop every 7th. The key events go out
    // 25 at a time (in order, each one a real key press), as a fast reviewer types.
    const expect = new Array(N).fill(0);
    expect[0] = 1; expect[1] = 2; expect[2] = 1; expect[3] = 2;
    const keys = [];
    for (let i = 4; i < N; i++) {
      expect[i] = i % 7 === 0 ? 2 : 1;
      keys.push(expect[i] === 2 ? 'x' : 'y');
    }
    const t0 = Date.now();
    for (let i = 0; i < keys.length; i += 25)
      await Promise.all(keys.slice(i, i + 25).map((k) => kb.press(k)));
    log(`${keys.length} decisions by keyboard in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const kept = expect.filter((v) => v === 1).length, dropped = N - kept;
    const counts = await text(page, '#counts');
    check('every sequence decided with the keyboard alone; the counter agrees', () => {
      assert.match(counts, new RegExp(`decided ${N} \\(kept ${kept}, dropped ${dropped}\\) · left 0 of ${N}`));
    });
    assert.match(await text(page, '#empty'), /No undecided sequences left/);
    await kb.press('f'); await kb.press('f'); await kb.press('f');
    assert.equal(await page.$eval('#filter', (s) => s.value), 'all');
    await kb.press('Home');
    await kb.press('u');
    assert.match(await text(page, '#counts'), /left 1 of/);
    await kb.press('y');
    passed('u makes a sequence undecided again');

    await page.reload();
    const stored = await page.evaluate(() => ({ keys: Object.keys(localStorage), notice: document.getElementById('notice').textContent }));
    log(`after the reload: storage keys ${JSON.stringify(stored.keys)}, notice '${stored.notice}'`);
    const after = await page.$$eval('#list li', (lis) => lis.map((li) => 'ukd'.indexOf(li.className.split(' ').find((c) => c.length === 1))));
    check('decisions survive a reload', () => {
      assert.deepEqual(after, expect);
    });
    assert.match(await text(page, '#counts'), new RegExp(`left 0 of ${N}`));
    assert.equal(await text(page, '#pos'), `2 of ${N}`);

    // ---- saving ----
    const save = async (key) => {
      const [dl] = await Promise.all([page.waitForEvent('download'), kb.press(key)]);
      const to = path.join(work, dl.suggestedFilename());
      await dl.saveAs(to);
      return to;
    };
    const keptPath = await save('s');
    const droppedPath = await save('S');
    const keptFc = JSON.parse(fs.readFileSync(keptPath, 'utf8'));
    const droppedFc = JSON.parse(fs.readFileSync(droppedPath, 'utf8'));
    check('s saves the kept sequences as given, S the dropped ones', () => {
      assert.equal(path.basename(keptPath), 'sequences_kept.geojson');
      assert.equal(path.basename(droppedPath), 'sequences_dropped.geojson');
      assert.equal(keptFc.type, 'FeatureCollection');
      assert.deepEqual(keptFc.features, input.features.filter((_, i) => expect[i] === 1));
      assert.deepEqual(droppedFc.features, input.features.filter((_, i) => expect[i] === 2));
    });
    assert.match(await text(page, '#status'), /saved \d+ sequences to sequences_dropped.geojson/);

    // ---- rerunning the command refreshes the links; the decisions stay ----
    const fresh = JSON.parse(JSON.stringify(input));
    for (const f of fresh.features) {
      const p = f.properties;
      p.custom_url = p.custom_url.replace('oe=7FFFFFFF', 'oe=7FFFFFFE');
      p.custom_urls = p.custom_urls.replace(/\/expired\/(\d+_\d)\.jpg\?oe=5F000000/, '/img/$1.jpg?oe=7FFFFFFE');
    }
    fs.writeFileSync(inPath, JSON.stringify(fresh));
    r = run(['review', `--geojson_input=${inPath}`, `--review_html=${pagePath}`]);
    assert.equal(r.status, 0, r.stderr);
    const expiredBefore = s.hits.expired;
    await page.reload();
    await kb.press('Home'); await kb.press('j'); await kb.press('j');
    assert.equal(await text(page, '#pos'), `3 of ${N}`);
    widths = await thumbsLoaded(page);
    const again = await page.$$eval('#list li', (lis) => lis.map((li) => 'ukd'.indexOf(li.className.split(' ').find((c) => c.length === 1))));
    const noticeHidden = await page.$eval('#notice', (n) => n.hidden);
    check('a rerun of the command refreshes the links and keeps the decisions', () => {
      assert.deepEqual(again, expect);
      assert.deepEqual(widths, [480, 480, 480, 480, 480]);
      assert.equal(s.hits.expired, expiredBefore);
      assert.equal(noticeHidden, true);
    });

    // ---- the saved file goes on through mapillary ----
    r = run(['review', `--geojson_input=${keptPath}`, `--review_html=${path.join(work, 'kept.html')}`]);
    check('mapillary reads the saved file back', () => {
      assert.equal(r.status, 0, r.stderr);
      const again = fs.readFileSync(path.join(work, 'kept.html'), 'utf8');
      const data = JSON.parse(/<script id="mly-data" type="application\/json">([^<]*)<\/script>/.exec(again)[1]);
      assert.equal(data.features.length, kept);
    });
    if (run(['merge_sequences', '--help']).status === 0) {
      const merged = path.join(work, 'merged.geojson');
      r = run(['merge_sequences', `--geojson_input=${keptPath}`, `--geojson_output=${merged}`]);
      check('the saved file feeds merge_sequences', () => {
        assert.equal(r.status, 0, r.stderr);
        assert.equal(JSON.parse(fs.readFileSync(merged, 'utf8')).features.length, kept);
      });
    } else log('merge_sequences is not in this binary: the saved file was read back by review only');

    // ---- hover, then the screenshot ----
    await kb.press('Home');
    for (let i = 0; i < 9; i++) await kb.press('j');
    await thumbsLoaded(page);
    const hovered = 14;
    await page.hover(`#map path[data-i="${hovered}"]`, { force: true });
    assert.equal(await page.$eval(`#map path[data-i="${hovered}"]`, (p) => p.classList.contains('hover')), true);
    assert.match(await text(page, '#hoverinfo'), new RegExp(input.features[hovered].properties.sequence_id));
    passed('hovering a line highlights it and names it');
    const shot = path.join(work, 'review.png');
    await page.screenshot({ path: shot });
    const boxes = (await page.$$eval('#thumbs img', (imgs) => imgs.map((i) => {
      const b = i.getBoundingClientRect();
      return { x: b.x, y: b.y, w: b.width, h: b.height, src: i.src };
    }))).map((b) => { // the JPEG the server sent for it, as a data URL (no cross-origin canvas)
      const m = /\/img\/(\d+)_(\d)\.jpg/.exec(b.src);
      const jpeg = jpegs[(Number(m[1]) * 5 + Number(m[2])) % jpegs.length];
      return { ...b, src: 'data:image/jpeg;base64,' + jpeg.toString('base64') };
    });
    // the screenshot's pixels where the thumbnails are: those of the JPEGs, not an icon
    const probe = await browser.newPage();
    const diffs = await probe.evaluate(async ({ png, boxes }) => {
      const load = (src) => new Promise((ok, no) => { const i = new Image(); i.onload = () => ok(i); i.onerror = no; i.src = src; });
      const shot = await load('data:image/png;base64,' + png);
      const c = document.createElement('canvas');
      c.width = shot.naturalWidth; c.height = shot.naturalHeight;
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(shot, 0, 0);
      const mean = (x, y, w, h) => {
        const d = g.getImageData(Math.round(x), Math.round(y), Math.round(w), Math.round(h)).data;
        const m = [0, 0, 0];
        for (let i = 0; i < d.length; i += 4) { m[0] += d[i]; m[1] += d[i + 1]; m[2] += d[i + 2]; }
        return m.map((v) => v / (d.length / 4));
      };
      const out = [];
      for (const b of boxes) {
        const seen = mean(b.x, b.y, b.w, b.h);
        const img = await load(b.src); // the same picture, drawn at the same size
        g.clearRect(0, 0, c.width, c.height);
        const s = Math.min(b.w / img.naturalWidth, b.h / img.naturalHeight);
        const w = img.naturalWidth * s, h = img.naturalHeight * s;
        g.fillStyle = '#fff'; g.fillRect(b.x, b.y, b.w, b.h);
        g.drawImage(img, b.x + (b.w - w) / 2, b.y + (b.h - h) / 2, w, h);
        const want = mean(b.x, b.y, b.w, b.h);
        g.drawImage(shot, 0, 0);
        out.push(Math.max(...seen.map((v, i) => Math.abs(v - want[i]))));
      }
      return out;
    }, { png: fs.readFileSync(shot).toString('base64'), boxes });
    await probe.close();
    check('the screenshot shows the thumbnails themselves', () => {
      assert.equal(diffs.length, 5);
      for (const d of diffs) assert.ok(d < 12, `thumbnail pixels differ by ${d}`);
    });

    const own = new Set(['file:', 'blob:', 'data:']);
    const elsewhere = requests.filter((u) => !own.has(new URL(u).protocol) && !u.startsWith(base + '/'));
    check('nothing is fetched but the thumbnails', () => {
      assert.deepEqual(elsewhere, []);
      assert.ok(s.hits.img > 0 && s.hits.expired > 0);
    });
    check('no script errors', () => assert.deepEqual(errors, []));
    await context.close();
  } finally {
    await browser.close();
    if (server) server.close();
  }
  console.log(`${checks} passed, 0 failed`);
}

main().catch((e) => {
  console.error(`not ok - ${e && e.stack ? e.stack : e}`);
  console.log(`${checks} passed, 1 failed`);
  process.exit(1);
});
