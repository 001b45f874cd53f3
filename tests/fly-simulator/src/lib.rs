//! A stateful simulator of the Fly Machines API, with fault injection and a process driver.
