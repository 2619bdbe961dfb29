//! Voice messages need the microphone, and on Linux the webview (WebKitGTK) gives it to no
//! page by default: media streams are off in its settings, and it refuses every permission
//! request its embedder does not answer. This turns media streams on for Hearth's own window
//! and allows exactly one kind of request: capturing audio (recording a voice message).
//! Cameras, screens, location and everything else keep WebKit's default: refused.
//!
//! `HEARTH_MOCK_MICROPHONE=1` gives the window WebKit's mock capture devices instead of real
//! ones: the end-to-end tests record from it on machines with no sound card.

#[cfg(target_os = "linux")]
pub fn allow(window: &tauri::WebviewWindow) {
    use webkit2gtk::glib::Cast;
    use webkit2gtk::{
        PermissionRequestExt, SettingsExt, UserMediaPermissionRequestExt, WebViewExt,
    };
    let res = window.with_webview(|w| {
        let view = w.inner();
        if let Some(settings) = WebViewExt::settings(&view) {
            settings.set_enable_media_stream(true);
            if std::env::var_os("HEARTH_MOCK_MICROPHONE").is_some() {
                settings.set_enable_mock_capture_devices(true);
            }
        }
        view.connect_permission_request(|_, request| match request
            .downcast_ref::<webkit2gtk::UserMediaPermissionRequest>(
        ) {
            Some(r) if r.is_for_audio_device() && !r.is_for_video_device() => {
                request.allow();
                true
            }
            _ => false,
        });
    });
    if let Err(e) = res {
        tracing::warn!(error = %e, "could not allow the microphone: voice messages will not record");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn allow(_window: &tauri::WebviewWindow) {}
