# The gate door station and the indoor monitor in the hall. Both are bound
# by MAC; Akuvox MACs start with the vendor prefix 0C:11:05.

device "gate" {
  model    = "akuvox-r20k"
  mac      = "0C:11:05:4A:21:07"
  location = "Driveway gate"

  button "1" {
    calls = residence.home
  }

  # Pressing # during a gate call opens the gate for three seconds.
  relay "gate" {
    dtmf = "#"
    hold = "3s"
  }
}

device "hall-monitor" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:4A:21:3C"
  location  = "Front hall"
  residence = residence.home
}
