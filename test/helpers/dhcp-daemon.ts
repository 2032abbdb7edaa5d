/** Daemon config for DHCP tests: server mode on the lab's server side (`rbs0`) of `<net>.0/24`. */
export function dhcpDaemonConfig(net: string, over: Record<string, unknown> = {}) {
  return {
    serverAddress: `${net}.1`,
    http: { address: '0.0.0.0' },
    tftp: { address: '0.0.0.0' },
    dhcp: {
      enabled: true,
      mode: 'server',
      interface: 'rbs0',
      subnet: `${net}.0/24`,
      pool: { start: `${net}.100`, end: `${net}.150` },
      router: `${net}.1`,
      dns: [`${net}.53`],
      leaseSeconds: 900,
      ...over,
    },
  };
}
