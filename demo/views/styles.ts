// The demo's stylesheet: inlined in every page and allowed by its hash in the Content-Security-Policy.
export const STYLES = `
:root {
  color-scheme: light dark;
  --bg: #f5f6f8; --card: #fff; --text: #1d2330; --muted: #5d6677; --line: #dfe3ea;
  --accent: #3156d3; --accent-text: #fff; --danger: #b42318; --focus: #f4b400;
  --info-bg: #e8efff; --info-line: #9db4f5; --warn-bg: #fff4d6; --warn-line: #e9b949;
  --ok-bg: #e3f6e8; --ok-line: #79c08c; --err-bg: #fde8e7; --err-line: #ec9a94;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #12151b; --card: #1b2029; --text: #e8ebf1; --muted: #9aa3b5; --line: #2c3340;
    --accent: #7b9cff; --accent-text: #0d1326; --danger: #ff8a80;
    --info-bg: #18233d; --info-line: #3a5497; --warn-bg: #33290f; --warn-line: #8a6d1f;
    --ok-bg: #14301d; --ok-line: #2f7a45; --err-bg: #3a1816; --err-line: #8c3a33;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--card); padding: .5rem 1rem; z-index: 1; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
header.top { background: var(--card); border-bottom: 1px solid var(--line); }
header.top .inner { max-width: 960px; margin: 0 auto; padding: .75rem 1.25rem; display: flex; gap: 1.5rem;
  align-items: center; flex-wrap: wrap; }
.brand { font-weight: 700; text-decoration: none; color: var(--text); }
.brand span { color: var(--muted); font-weight: 400; }
nav ul { list-style: none; display: flex; gap: 1rem; margin: 0; padding: 0; }
nav a { text-decoration: none; padding: .25rem 0; border-bottom: 2px solid transparent; }
nav a[aria-current="page"] { border-color: var(--accent); color: var(--text); }
.who { margin-left: auto; display: flex; gap: .75rem; align-items: center; color: var(--muted); }
.sessionbar { max-width: 960px; margin: 0 auto; padding: .5rem 1.25rem; color: var(--muted); font-size: .9rem; }
.sessionbar strong { color: var(--text); font-variant-numeric: tabular-nums; }
main { max-width: 960px; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
main.narrow { max-width: 440px; padding-top: 3rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 .25rem; }
h2 { font-size: 1.15rem; margin: 0 0 .75rem; display: flex; gap: .5rem; align-items: center; }
.lead { color: var(--muted); margin-top: 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1.25rem;
  margin: 1rem 0; box-shadow: 0 1px 2px rgb(0 0 0 / 4%); }
.banner { border: 1px solid var(--info-line); background: var(--info-bg); border-radius: 10px;
  padding: .75rem 1rem; margin: 1rem 0; }
.banner.warn { border-color: var(--warn-line); background: var(--warn-bg); }
.banner.success { border-color: var(--ok-line); background: var(--ok-bg); }
.banner.error { border-color: var(--err-line); background: var(--err-bg); }
.banner strong { display: block; }
.count { background: var(--line); border-radius: 999px; padding: 0 .55rem; font-size: .85rem; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .6rem .5rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
tr.current { background: color-mix(in srgb, var(--accent) 7%, transparent); }
tr.fresh { background: color-mix(in srgb, var(--focus) 14%, transparent); }
td.actions { text-align: right; }
.device { font-weight: 600; }
.badge { display: inline-block; font-size: .75rem; font-weight: 600; border-radius: 999px; padding: .05rem .5rem;
  margin-left: .35rem; background: var(--accent); color: var(--accent-text); vertical-align: 1px; }
.badge.muted { background: var(--line); color: var(--text); }
.meta { color: var(--muted); font-size: .9rem; }
.expiry-note { display: block; font-size: .8rem; }
form.inline { display: inline; margin: 0; }
.row { display: flex; gap: .75rem; flex-wrap: wrap; align-items: center; margin-top: 1rem; }
label { display: block; font-weight: 600; margin: .9rem 0 .3rem; }
input[type=text], input[type=password] { width: 100%; font: inherit; padding: .6rem .7rem; border-radius: 8px;
  border: 1px solid var(--line); background: var(--bg); color: var(--text); }
.hint { color: var(--muted); font-size: .85rem; margin: .3rem 0 0; }
.check { display: flex; gap: .5rem; align-items: center; margin-top: 1rem; }
.check label { margin: 0; }
.check input { width: 1.1rem; height: 1.1rem; margin: 0; accent-color: var(--accent); }
button { font: inherit; font-weight: 600; border-radius: 8px; padding: .5rem 1rem; cursor: pointer;
  border: 1px solid var(--accent); background: var(--accent); color: var(--accent-text); }
button.secondary { background: transparent; color: var(--accent); }
button.danger { background: transparent; color: var(--danger); border-color: var(--danger); }
button.small { padding: .25rem .7rem; font-size: .9rem; }
button:disabled { opacity: .5; cursor: not-allowed; }
form.stack button[type=submit] { width: 100%; margin-top: 1.25rem; padding: .7rem; }
dl.accounts { display: grid; grid-template-columns: auto 1fr; gap: .25rem 1rem; margin: .5rem 0 0; }
dl.accounts dt { font-weight: 600; }
dl.accounts dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
dl.accounts .meta { font-family: system-ui, sans-serif; }
.explain p { margin: .25rem 0 .75rem; }
pre.stored { white-space: pre-wrap; overflow-wrap: anywhere; margin: .5rem 0 .75rem; padding: .6rem .75rem;
  background: var(--bg); border: 1px solid var(--line); border-radius: 8px; font: .9rem/1.6 ui-monospace, SFMono-Regular, Menlo, monospace; }
.part, .swatch { border-bottom: 3px solid; }
.is-expires { border-color: var(--ok-line); }
.is-header { border-color: var(--info-line); }
.is-data { border-color: var(--err-line); }
.swatch { display: inline-block; width: 1.5rem; margin-right: .5rem; vertical-align: middle; }
dl.parts dt { font-weight: 600; margin-top: .5rem; }
dl.parts dd { margin: 0 0 .25rem 2rem; color: var(--muted); font-size: .9rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
footer { max-width: 960px; margin: 0 auto; padding: 0 1.25rem 2rem; color: var(--muted); font-size: .85rem; }
@media (max-width: 640px) {
  .hide-narrow { display: none; }
  .who { margin-left: 0; width: 100%; justify-content: space-between; }
  /* Narrow screens: each table row becomes a small card, the action on its right. */
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  tbody tr { display: grid; grid-template-columns: 1fr auto; gap: .1rem .75rem; padding: .7rem .5rem;
    border-bottom: 1px solid var(--line); }
  tbody td { border: 0; padding: 0; grid-column: 1; }
  tbody td[data-label] { color: var(--muted); font-size: .9rem; }
  tbody td[data-label]::before { content: attr(data-label) ": "; }
  tbody td.actions { grid-column: 2; grid-row: 1 / span 4; align-self: center; }
  .expiry-note { display: inline; }
  .device + .badge { margin-left: 0; }
  .device { display: block; }
}
`;
