/**
 * `kubepath/netfilter`: read iptables-save dumps and trace packets through them.
 *
 * ```ts
 * import { parseRuleset, buildHost, tracePacket } from 'kubepath/netfilter';
 * const rules = parseRuleset(dump, { file: 'node.rules' });
 * const host = buildHost({ interfaces: [{ name: 'eth0', addresses: ['192.168.0.2/24'] }] });
 * const trace = tracePacket(rules, host, { packet, entry: { kind: 'incoming', interface: 'eth0' } });
 * ```
 *
 * @module
 */
export * from './ir.js';
export type { BranchState, MatchContext, PacketView, RecentEntry, SocketOwner } from './context.js';
export * from './conntrack.js';
export * from './conntrack-list.js';
export * from './host.js';
export * from './ipset.js';
export { parseRuleset, RulesetSyntaxError, tokenizeRule, type ParseRulesetOptions } from './parse.js';
export { type NatRange, type Target, parseNatRange } from './targets.js';
export { jhash2, pickRangeAddress } from './nat.js';
export { kernelProbability } from './matches/misc.js';
export { addressType } from './matches/address.js';
export * from './trace.js';
export * from './evaluate.js';
export { indexRuleset } from './chain-index.js';
export * from './trace-json.js';
