/**
 * Every conformance case, in catalogue order (one file per area).
 *
 * @example
 * import { allCases } from './cases/index.ts';
 * allCases.length; // ≥ 60
 */
import type { ConformanceCase } from '../harness.ts';
import installRedirect from './install-redirect.ts';
import installWebhook from './install-webhook.ts';
import tokens from './tokens.ts';
import refresh from './refresh.ts';
import verify from './verify.ts';
import uninstall from './uninstall.ts';
import signatures from './signatures.ts';
import delivery from './delivery.ts';
import notifications from './notifications.ts';
import persistence from './persistence.ts';
import robustness from './robustness.ts';
import images from './images.ts';

export const allCases: readonly ConformanceCase[] = [
  ...installRedirect, ...installWebhook, ...tokens, ...refresh, ...verify, ...uninstall, ...signatures,
  ...delivery, ...notifications, ...persistence, ...robustness, ...images,
];
