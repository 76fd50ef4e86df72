// The client's address. Behind N proxies, the Nth X-Forwarded-For entry from the right was written by our own
// first proxy and is the one to believe; anything further left was sent by the client and may be forged.
// With no proxies configured the header is ignored entirely.

const ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/;

export function clientAddressResolver(
  trustedProxies: number,
  peerAddress: (request: Request) => string | undefined,
): (request: Request) => string | undefined {
  if (trustedProxies === 0) return peerAddress;
  return (request) => {
    const forwarded = request.headers.get("x-forwarded-for");
    if (!forwarded) return peerAddress(request);
    const hops = forwarded.split(",");
    const candidate = hops[hops.length - trustedProxies]?.trim();
    return candidate && ADDRESS.test(candidate) ? candidate : peerAddress(request);
  };
}
