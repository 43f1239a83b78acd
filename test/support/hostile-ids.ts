// User ids that have broken other stores' key layouts: separators, hash-tag braces, globs, Lua, unicode, 10 KB, byte-order marks.
export const HOSTILE_IDS = [
  'a:b',
  'a:b:c',
  '{alice}',
  '}{',
  'alice}',
  '*',
  '?',
  '[a-z]',
  'sess:*',
  ' leading',
  'trailing ',
  'tab\there',
  'new\nline',
  '😀 ünïcödé 漢字',
  "'; redis.call('FLUSHALL') --",
  '..',
  '.',
  'x'.repeat(60),
  'x'.repeat(61),
  'é'.repeat(5_000), // 10 KB of UTF-8
  // A byte-order mark is a character like any other (issue 11): a decoder must not strip it.
  '\uFEFFbom-leading',
  '\uFEFF',
  '\uFEFF\uFEFF',
  'bom\uFEFFinside',
  `\uFEFF${'b'.repeat(70)}`, // longer than 60 bytes: a hashed tag
];
