#!/usr/bin/env python3
"""Asks an X window to close the way a window manager does when someone clicks its close
button: a WM_DELETE_WINDOW client message (Xvfb has no window manager to send it).

    wm-close.py WINDOW_ID
"""
import ctypes
import sys

x = ctypes.CDLL("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XInternAtom.restype = ctypes.c_ulong
x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
x.XFlush.argtypes = [ctypes.c_void_p]
x.XCloseDisplay.argtypes = [ctypes.c_void_p]


class ClientMessage(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("l", ctypes.c_long * 5),
    ]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]


x.XSendEvent.argtypes = [
    ctypes.c_void_p,
    ctypes.c_ulong,
    ctypes.c_int,
    ctypes.c_long,
    ctypes.POINTER(XEvent),
]

CLIENT_MESSAGE = 33
display = x.XOpenDisplay(None)
if not display:
    sys.exit("cannot open the X display")
window = int(sys.argv[1])
ev = XEvent()
ev.xclient.type = CLIENT_MESSAGE
ev.xclient.window = window
ev.xclient.message_type = x.XInternAtom(display, b"WM_PROTOCOLS", 0)
ev.xclient.format = 32
ev.xclient.l[0] = x.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
ev.xclient.l[1] = 0  # CurrentTime
if not x.XSendEvent(display, window, 0, 0, ctypes.byref(ev)):
    sys.exit("the close request could not be sent")
x.XFlush(display)
x.XCloseDisplay(display)
