//! Commands of the Settings screen that are not about identities or marketplaces: the defaults
//! every new dataset starts from.

use hallmark_core::defaults::Defaults;
use tauri::State;

use crate::dto;
use crate::error::IpcError;
use crate::state::AppPaths;

/// The defaults for new datasets (the built-in ones until the creator saves their own).
#[tauri::command]
pub fn studio_defaults(paths: State<'_, AppPaths>) -> Result<dto::StudioDefaults, IpcError> {
    Ok(dto::StudioDefaults::from(&Defaults::load(
        &paths.defaults(),
    )?))
}

/// Checks and keeps `defaults` (blank patterns dropped); returns them as kept.
#[tauri::command]
pub fn save_studio_defaults(
    defaults: dto::StudioDefaults,
    paths: State<'_, AppPaths>,
) -> Result<dto::StudioDefaults, IpcError> {
    let defaults = Defaults::from(defaults);
    defaults.save(&paths.defaults())?;
    Ok(dto::StudioDefaults::from(&defaults))
}
