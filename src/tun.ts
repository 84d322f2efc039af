/**
 * `synack/tun` — the TUN link (Linux, Node): a `Link` on a TUN device
 * through the optional native addon (package `synack-tun`), with an
 * optional impairment stage. Attach it to a stack of a `Network` on the
 * real clock (see `synack serve --tun` in src/cli/tun-host.ts). And the
 * TAP link: a `FrameLink` on a TAP device (Ethernet frames), behind an
 * Ethernet interface of the stack (`attachTap`; `synack serve --tap`).
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
export { sweepArrayBuffersOnMainThread } from './links/v8-tuning.ts';
export { ImpairStage, type ImpairStats } from './links/impair.ts';
export { TapLink, attachTap, type TapLinkOptions } from './links/tap.ts';
