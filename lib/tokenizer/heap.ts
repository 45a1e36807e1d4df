// A binary min-heap of (key, tie, value) triples in typed arrays: no object per entry, so the BPE
// encoder and trainer can push millions of entries cheaply. Smallest key first, then smallest tie.

/** Min-heap ordered by (key, tie); each entry carries a numeric value. */
export class MinHeap {
  private keys = new Float64Array(64);
  private ties = new Float64Array(64);
  private values = new Float64Array(64);
  size = 0;

  /** Add an entry. */
  push(key: number, tie: number, value: number): void {
    if (this.size === this.keys.length) this.grow();
    let i = this.size++;
    // Sift up: move parents down until the new entry's place is found.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(key, tie, this.keys[parent]!, this.ties[parent]!)) break;
      this.set(i, this.keys[parent]!, this.ties[parent]!, this.values[parent]!);
      i = parent;
    }
    this.set(i, key, tie, value);
  }

  /** The smallest entry's key, tie and value (call only when size > 0). */
  peekKey(): number { return this.keys[0]!; }
  peekTie(): number { return this.ties[0]!; }
  peekValue(): number { return this.values[0]!; }

  /** Remove the smallest entry. */
  pop(): void {
    const last = --this.size;
    const key = this.keys[last]!, tie = this.ties[last]!, value = this.values[last]!;
    let i = 0;
    // Sift down: move the smaller child up until the last entry's place is found.
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && this.less(this.keys[child + 1]!, this.ties[child + 1]!, this.keys[child]!, this.ties[child]!)) child++;
      if (!this.less(this.keys[child]!, this.ties[child]!, key, tie)) break;
      this.set(i, this.keys[child]!, this.ties[child]!, this.values[child]!);
      i = child;
    }
    if (last > 0) this.set(i, key, tie, value);
  }

  /** Remove every entry, keeping the memory. */
  clear(): void {
    this.size = 0;
  }

  private less(k1: number, t1: number, k2: number, t2: number): boolean {
    return k1 < k2 || (k1 === k2 && t1 < t2);
  }

  private set(i: number, key: number, tie: number, value: number): void {
    this.keys[i] = key;
    this.ties[i] = tie;
    this.values[i] = value;
  }

  private grow(): void {
    const grow = (a: Float64Array) => {
      const b = new Float64Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.keys = grow(this.keys);
    this.ties = grow(this.ties);
    this.values = grow(this.values);
  }
}
