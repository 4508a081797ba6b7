/** The parts one after another: the only part itself, or one new buffer. */
export function concatBytes(parts: readonly Uint8Array[], length = parts.reduce((n, part) => n + part.length, 0)): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const whole = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return whole;
}
