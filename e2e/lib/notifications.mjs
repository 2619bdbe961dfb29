// A private D-Bus session bus with a desktop notification service on it that records what it
// is asked to show: the app's notifications go through the real freedesktop Notifications
// protocol, and the test sees exactly what a notification daemon would.

import dbus from 'dbus-next';
import { sessionBus } from './harness.mjs';

const { Interface } = dbus.interface;

export async function notificationService() {
  const daemon = await sessionBus();
  const { address } = daemon;

  const shown = [];
  class Notifications extends Interface {
    Notify(_app, _replaces, _icon, summary, body) {
      shown.push({ summary, body });
      return shown.length;
    }
    GetCapabilities() { return ['body']; }
    GetServerInformation() { return ['hearth-e2e', 'hearth', '1', '1.2']; }
    CloseNotification() {}
  }
  Notifications.configureMembers({
    methods: {
      Notify: { inSignature: 'susssasa{sv}i', outSignature: 'u' },
      GetCapabilities: { inSignature: '', outSignature: 'as' },
      GetServerInformation: { inSignature: '', outSignature: 'ssss' },
      CloseNotification: { inSignature: 'u', outSignature: '' },
    },
  });
  const bus = dbus.sessionBus({ busAddress: address });
  await bus.requestName('org.freedesktop.Notifications', 0);
  bus.export('/org/freedesktop/Notifications', new Notifications('org.freedesktop.Notifications'));
  return {
    address,
    shown,
    stop() {
      bus.disconnect();
      daemon.stop();
    },
  };
}
