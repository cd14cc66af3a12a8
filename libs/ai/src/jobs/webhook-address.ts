import { Inject } from '@nestjs/common';
import { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** Every address a webhook's host name resolves to; the seam a test replaces to map a name where it wants. */
export type WebhookLookup = (hostname: string) => Promise<LookupAddress[]>;

export const WebhookLookup = Symbol('WebhookLookup');

export const InjectWebhookLookup = (): PropertyDecorator & ParameterDecorator => Inject(WebhookLookup);

/** The system's resolver, as a connection would use it (hosts file included), every address in its order. */
export const systemLookup: WebhookLookup = (hostname) => lookup(hostname, { all: true, verbatim: true });

/** Addresses that reach the gateway's own host or network, or nowhere on the internet. */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", the unspecified address among them
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, where clouds serve instance metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, the broadcast address among them
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 96], // the unspecified address, loopback (::1) and the deprecated IPv4-compatible addresses
  ['fc00::', 7], // unique-local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local, deprecated
  ['ff00::', 8], // multicast
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6');
}

/** Whether `address` is a public unicast address; an IPv4-mapped IPv6 one (`::ffff:127.0.0.1`) is judged as the IPv4 address it carries. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return !NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
