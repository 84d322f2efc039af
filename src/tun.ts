/**
 * `synack/tun` — the TUN link (Linux, Node): a `Link` on a TUN device
 * through the optional native addon (package `synack-tun`), with an
 * optional impairment stage. Attach it to a stack of a `Network` on the
 * real clock (see `synack serve --tun` in src/cli/tun-host.ts).
 */
export {
  TunLink,
  TunError,
  loadTunAddon,
  tunAvailable,
  configureTunDevice,
  type TunLinkOptions,
  type TunLinkStats,
  type TunAddon,
  type TunDeviceHandle,
  type TunOpenMode,
} from './links/tun.ts';
export { ImpairStage, type ImpairStats } from './links/impair.ts';
