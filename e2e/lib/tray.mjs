// A system tray on a private session bus, as a desktop panel provides one: the
// StatusNotifierWatcher that tray icons register with (org.kde.StatusNotifierWatcher), and a
// host that reads an icon's menu and clicks its items through the menu's own protocol
// (com.canonical.dbusmenu). The app's tray icon (libayatana-appindicator) goes through exactly
// these calls on a real desktop; Xvfb has no panel, so the test brings this one.

import dbus from 'dbus-next';
import { until } from './harness.mjs';

const { Interface, ACCESS_READ } = dbus.interface;
const { Message, Variant } = dbus;

/** Starts the watcher on the bus at `address`; returns the icons registered with it. */
export async function trayService(address) {
  const bus = dbus.sessionBus({ busAddress: address });
  /** Registered icons: the bus name that owns each and its object path. */
  const items = [];
  // The watcher's method cannot see who called it; the bus's message stream can.
  bus.on('message', (msg) => {
    if (msg.interface === 'org.kde.StatusNotifierWatcher' && msg.member === 'RegisterStatusNotifierItem') {
      const [service] = msg.body;
      items.push(service.startsWith('/') ? { name: msg.sender, path: service } : { name: service, path: '/StatusNotifierItem' });
    }
  });

  class Watcher extends Interface {
    RegisterStatusNotifierItem() {}
    RegisterStatusNotifierHost() {}
    get RegisteredStatusNotifierItems() { return items.map((i) => `${i.name}${i.path}`); }
    get IsStatusNotifierHostRegistered() { return true; }
    get ProtocolVersion() { return 0; }
  }
  Watcher.configureMembers({
    methods: {
      RegisterStatusNotifierItem: { inSignature: 's', outSignature: '' },
      RegisterStatusNotifierHost: { inSignature: 's', outSignature: '' },
    },
    properties: {
      RegisteredStatusNotifierItems: { signature: 'as', access: ACCESS_READ },
      IsStatusNotifierHostRegistered: { signature: 'b', access: ACCESS_READ },
      ProtocolVersion: { signature: 'i', access: ACCESS_READ },
    },
    signals: {
      StatusNotifierItemRegistered: { signature: 's' },
      StatusNotifierItemUnregistered: { signature: 's' },
      StatusNotifierHostRegistered: { signature: '' },
    },
  });
  await bus.requestName('org.kde.StatusNotifierWatcher', 0);
  bus.export('/StatusNotifierWatcher', new Watcher('org.kde.StatusNotifierWatcher'));

  const call = async (destination, path, iface, member, signature = '', body = []) =>
    (await bus.call(new Message({ destination, path, interface: iface, member, signature, body }))).body;

  /** The menu of the latest registered icon: its bus name, object path and items by label. */
  async function menu() {
    const item = await until('a tray icon to register', () => items.at(-1));
    const [menuPath] = await call(item.name, item.path, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [
      'org.kde.StatusNotifierItem',
      'Menu',
    ]);
    const [, layout] = await call(item.name, menuPath.value, 'com.canonical.dbusmenu', 'GetLayout', 'iias', [0, -1, []]);
    const entries = [];
    const walk = ([id, props, children]) => {
      if (props.label) entries.push({ id, label: props.label.value.replaceAll('_', '') });
      for (const c of children) walk(c.value);
    };
    walk(layout);
    return { name: item.name, path: menuPath.value, entries };
  }

  return {
    items,
    /** The labels of the icon's menu, in order. */
    async labels() {
      return (await menu()).entries.map((e) => e.label);
    },
    /** Clicks the menu item with this label, as a person does in the panel. */
    async click(label) {
      const m = await menu();
      const entry = m.entries.find((e) => e.label === label);
      if (!entry) throw new Error(`no tray menu item "${label}" (there are: ${m.entries.map((e) => e.label).join(', ')})`);
      await call(m.name, m.path, 'com.canonical.dbusmenu', 'Event', 'isvu', [
        entry.id,
        'clicked',
        new Variant('i', 0),
        Math.floor(Date.now() / 1000) >>> 0,
      ]);
    },
    stop() {
      bus.disconnect();
    },
  };
}
