//! The windowing system the window asks for: X11 through XWayland in a Wayland session that has
//! it (so dropped files arrive), winit's own choice elsewhere, and the override both ways.

use activation_atlas::app::backend::{Backend, choose_backend};

#[test]
fn a_wayland_session_with_xwayland_opens_through_x11_so_drops_work() {
    assert_eq!(choose_backend(Some("wayland-0"), Some(":0"), None), Some(Backend::X11));
}

#[test]
fn plain_x11_and_wayland_without_xwayland_are_left_to_winit() {
    assert_eq!(choose_backend(None, Some(":0"), None), None);
    assert_eq!(choose_backend(Some("wayland-0"), None, None), None);
    assert_eq!(choose_backend(Some("wayland-0"), Some(""), None), None, "an empty DISPLAY is no X server");
    assert_eq!(choose_backend(None, None, None), None);
}

#[test]
fn the_variable_forces_either_backend_and_unknown_values_are_ignored() {
    assert_eq!(choose_backend(Some("wayland-0"), Some(":0"), Some("wayland")), Some(Backend::Wayland));
    assert_eq!(choose_backend(Some("wayland-0"), Some(":0"), Some(" Wayland ")), Some(Backend::Wayland));
    assert_eq!(choose_backend(None, Some(":0"), Some("x11")), Some(Backend::X11));
    assert_eq!(choose_backend(Some("wayland-0"), Some(":0"), Some("mir")), Some(Backend::X11));
    assert_eq!(choose_backend(None, Some(":0"), Some("")), None);
}
