//! Observing one app at Fly with a single list-machines call (404 means the app does not exist).

use fly_api::types::{ListMachines, Machine};
use fly_api::{AppName, ErrorClass, FlyClient, FlyError, Transport, LAUNCH_ID_KEY};

use crate::observed::{MachineState, ObservedApp, ObservedMachine};

/// Lists the app's machines; a missing (or foreign) app is an observation, not an error.
pub async fn observe_app<T: Transport>(
    fly: &FlyClient<T>,
    app: Option<&AppName>,
) -> Result<ObservedApp, FlyError> {
    let Some(app) = app else {
        return Ok(ObservedApp::NotLooked);
    };
    match fly.list_machines(app, &ListMachines::default()).await {
        Ok(machines) => Ok(ObservedApp::Present {
            machines: machines.iter().map(observed_machine).collect(),
        }),
        // 403: the name belongs to another org, so for us the app does not exist (creating it moves on to
        // the next name candidate).
        Err(e) if matches!(e.class, ErrorClass::NotFound | ErrorClass::Forbidden) => {
            Ok(ObservedApp::Missing)
        }
        Err(e) => Err(e),
    }
}

/// The parts of a Fly machine that decisions use.
pub fn observed_machine(machine: &Machine) -> ObservedMachine {
    ObservedMachine {
        id: machine.id.as_str().to_string(),
        state: MachineState::parse(&machine.state),
        image: machine
            .config
            .as_ref()
            .map(|c| c.image.clone())
            .unwrap_or_default(),
        region: machine.region.clone(),
        launch_id: machine.metadata(LAUNCH_ID_KEY).map(str::to_string),
    }
}
