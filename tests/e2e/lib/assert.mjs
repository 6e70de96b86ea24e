// Minimal assertions with readable messages.

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

export function assertEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

export function assertMatch(actual, pattern, what) {
  if (!pattern.test(String(actual))) throw new Error(`${what}: expected to match ${pattern}, got ${JSON.stringify(actual)}`);
}
