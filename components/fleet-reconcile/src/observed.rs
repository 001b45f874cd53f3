//! What Fleet saw at Fly for one app, reduced to what decisions need.

/// A machine's lifecycle state as Fly reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineState {
    Created,
    Starting,
    Started,
    Stopping,
    Stopped,
    Suspended,
    Failed,
    Replacing,
    Destroying,
    Destroyed,
    Unknown,
}

impl MachineState {
    pub fn parse(state: &str) -> Self {
        match state {
            "created" => Self::Created,
            "starting" => Self::Starting,
            "started" => Self::Started,
            "stopping" => Self::Stopping,
            "stopped" => Self::Stopped,
            "suspending" | "suspended" => Self::Suspended,
            "failed" => Self::Failed,
            "replacing" | "updating" => Self::Replacing,
            "destroying" => Self::Destroying,
            "destroyed" => Self::Destroyed,
            _ => Self::Unknown,
        }
    }

    /// Destroyed or on its way there: no longer counts as the user's machine.
    pub fn is_gone(self) -> bool {
        matches!(self, Self::Destroying | Self::Destroyed)
    }

    /// Moving between states on its own; the right move is to look again shortly.
    pub fn is_transitional(self) -> bool {
        matches!(
            self,
            Self::Created | Self::Starting | Self::Stopping | Self::Replacing | Self::Unknown
        )
    }
}

/// One machine of the user's app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedMachine {
    pub id: String,
    pub state: MachineState,
    pub image: String,
    pub region: String,
    /// `metadata.fleet_launch`: which create attempt made it.
    pub launch_id: Option<String>,
}

/// The app as observed through one list-machines call (404 = the app does not exist).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObservedApp {
    /// The row names no app yet, so nothing was asked.
    NotLooked,
    Missing,
    Present {
        machines: Vec<ObservedMachine>,
    },
}

impl ObservedApp {
    /// Machines that still count (not destroyed or being destroyed).
    pub fn live_machines(&self) -> Vec<&ObservedMachine> {
        match self {
            ObservedApp::Present { machines } => {
                machines.iter().filter(|m| !m.state.is_gone()).collect()
            }
            _ => Vec::new(),
        }
    }
}
