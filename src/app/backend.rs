//! Which windowing system the window asks for. winit 0.30 delivers dropped files only on X11, so
//! in a Wayland session that also runs XWayland (GNOME and KDE do by default) the window opens
//! through XWayland, where dropping photos on the classifier or the atlas works.
//! `ACTIVATION_ATLAS_BACKEND=wayland` forces native Wayland (sharper on scaled screens, no
//! drops); `=x11` forces X11.

/// A windowing system winit can be asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    X11,
    Wayland,
}

/// The variable that overrides the choice.
pub const BACKEND_VARIABLE: &str = "ACTIVATION_ATLAS_BACKEND";

/// The backend to ask for, from the session's variables (`WAYLAND_DISPLAY`, `DISPLAY`) and the
/// override; None leaves the choice to winit (its default: Wayland when available, else X11).
pub fn choose_backend(wayland_display: Option<&str>, x_display: Option<&str>, forced: Option<&str>) -> Option<Backend> {
    let set = |value: Option<&str>| value.is_some_and(|v| !v.is_empty());
    match forced.map(str::trim).map(str::to_ascii_lowercase).as_deref() {
        Some("wayland") => return Some(Backend::Wayland),
        Some("x11") => return Some(Backend::X11),
        _ => {}
    }
    (set(wayland_display) && set(x_display)).then_some(Backend::X11)
}

/// [`choose_backend`] for this process's environment.
pub fn backend_from_environment() -> Option<Backend> {
    let var = |name: &str| std::env::var(name).ok();
    choose_backend(var("WAYLAND_DISPLAY").as_deref(), var("DISPLAY").as_deref(), var(BACKEND_VARIABLE).as_deref())
}

/// The hook that makes eframe's event loop use `backend`.
pub fn event_loop_hook(backend: Backend) -> eframe::EventLoopBuilderHook {
    Box::new(move |builder| match backend {
        Backend::X11 => {
            use winit::platform::x11::EventLoopBuilderExtX11;
            builder.with_x11();
        }
        Backend::Wayland => {
            use winit::platform::wayland::EventLoopBuilderExtWayland;
            builder.with_wayland();
        }
    })
}
