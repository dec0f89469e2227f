// Raw memory reused from request to request for bytes the plugin builds or keeps (a decoded name, a
// path, a plan message): it grows when a request needs more and otherwise stays as it is, so a
// request that fits allocates nothing. Its contents last until the next reserve.
export class ByteBuffer {
  ptr: usize = 0;
  capacity: usize = 0;
  size: usize = 0;     // bytes in use, as the owner sets it

  // Room for at least `n` bytes (`slack` more when it has to grow); returns the address. What the
  // buffer held is not kept when it grows.
  reserve(n: usize, slack: usize = 32): usize {
    if (n > this.capacity) {
      if (this.ptr != 0) heap.free(this.ptr);
      this.capacity = n + slack;
      this.ptr = heap.alloc(this.capacity);
    }
    return this.ptr;
  }

  // A copy of [p, p + n).
  copy(p: usize, n: usize): void {
    memory.copy(this.reserve(n), p, n);
    this.size = n;
  }
}
