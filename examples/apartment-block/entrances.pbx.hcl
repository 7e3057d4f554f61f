# Two keypad door stations. A visitor keys a flat number (any residence
# label) and the panel calls that flat; a resident presses # to open.

device "main-entrance" {
  model    = "akuvox-r29c"
  mac      = "0C:11:05:6B:10:01"
  location = "Main entrance, Wharf Road"
  keypad   = true

  button "1" {
    calls = residence.management # the concierge button
  }

  relay "door" {
    dtmf = "#"
    hold = "5s"
  }
}

device "car-park" {
  model    = "akuvox-r29c"
  mac      = "0C:11:05:6B:10:02"
  location = "Car park pedestrian gate"
  keypad   = true

  relay "gate" {
    dtmf = "#"
    hold = "8s"
  }
}

# The management office desk phone.
device "office-phone" {
  model    = "yealink-t54w"
  mac      = "80:5E:C0:6B:10:10"
  location = "Management office"
  user     = user.manager
}
