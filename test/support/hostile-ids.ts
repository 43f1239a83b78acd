// User ids that have broken other stores' key layouts: separators, hash-tag braces, globs, Lua, unicode, 10 KB.
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
];
