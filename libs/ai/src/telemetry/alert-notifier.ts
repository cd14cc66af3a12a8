import { Inject, Logger } from '@nestjs/common';
import type { ActiveAlert } from './alert-evaluator';

/** An alert that started firing or stopped: each is sent once, not once per evaluation. */
export interface AlertNotification {
  status: 'firing' | 'resolved';
  alert: ActiveAlert;
  /** ISO time of the change. */
  at: string;
}

/** Where alert notifications go; throws when one could not be delivered (it is tried again later). */
export interface AlertNotifier {
  notify(notification: AlertNotification): Promise<void>;
}

export const AlertNotifier = Symbol('AlertNotifier');

export const InjectAlertNotifier = (): PropertyDecorator & ParameterDecorator => Inject(AlertNotifier);

const WEBHOOK_TIMEOUT_MS = 5_000;

/** Posts to a Slack-compatible incoming webhook: `text` for any chat tool, `attachments` for Slack's colours and fields. */
export class WebhookAlertNotifier implements AlertNotifier {
  constructor(private readonly url: string) {}

  async notify(notification: AlertNotification): Promise<void> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(slackMessage(notification)),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`the alert webhook answered ${response.status}`);
  }
}

/** Without a webhook, alerts are still logged and listed at /admin/alerts. */
export class LogAlertNotifier implements AlertNotifier {
  private readonly logger = new Logger('Alerts');

  async notify(notification: AlertNotification): Promise<void> {
    const line = slackMessage(notification).text;
    if (notification.status === 'firing') this.logger.warn(line);
    else this.logger.log(line);
  }
}

export function slackMessage({ status, alert, at }: AlertNotification) {
  const labels = Object.entries(alert.labels).map(([name, value]) => `${name}=${value}`).join(' ');
  return {
    text: `[${status.toUpperCase()}] ${alert.name} (${alert.severity}) ${labels}: ${alert.summary}`,
    attachments: [
      {
        color: status === 'resolved' ? 'good' : alert.severity === 'critical' ? 'danger' : 'warning',
        fields: [
          { title: 'alert', value: alert.name, short: true },
          { title: 'status', value: status, short: true },
          ...Object.entries(alert.labels).map(([title, value]) => ({ title, value, short: true })),
          { title: 'since', value: alert.activeSince, short: true },
          { title: 'at', value: at, short: true },
        ],
      },
    ],
  };
}
