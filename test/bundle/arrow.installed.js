// The app has apache-arrow installed: Arrow IPC bytes made with it.
import { tableFromArrays, tableToIPC } from 'apache-arrow';
export async function arrowBytes() {
  return tableToIPC(tableFromArrays({ symbol: ['a', 'b', 'a'], price: Float64Array.from([1, 10, 3]) }));
}
