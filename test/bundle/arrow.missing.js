// The app has no apache-arrow: arrowSource must say to install it.
export async function arrowBytes() {
  return new Uint8Array(16);
}
