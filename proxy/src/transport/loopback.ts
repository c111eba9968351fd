/** True for the loopback addresses a socket can report (IPv4 127/8, IPv6 ::1, IPv4-mapped 127/8). */
export function isLoopback(ip: string | undefined): boolean {
  return ip !== undefined && (ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.'));
}
