device "front-gate" {
  model    = "akuvox-r29c"
  mac      = "0C:11:05:12:34:56"
  location = "Front gate"
  button "1" { calls = residence.apt-1a }
  button "2" { calls = user.concierge }
  keypad = true
  relay "door" {
    dtmf = "#"
    hold = "5s"
  }
  relay "gate" {
    dtmf = "*1"
    hold = "10s"
  }
}

device "side-door" {
  model = "grandstream-gds3712"
  mac   = "c0-74-ad-00-00-01"
  button "1" { calls = residence.apt-1b }
  relay "door" { dtmf = "1234" }
}

device "monitor-1a" {
  model     = "akuvox-c315"
  mac       = "0c1105abcdef"
  residence = residence.apt-1a
}

device "desk-101" {
  model = "yealink-t54w"
  mac   = "80:5E:C0:11:22:33"
  user  = user.mary
}

device "desk-102" {
  model = "yealink-t31p"
  mac   = "805e.c011.2234"
  user  = user.aoife
}

device "reception" {
  model = "grandstream-grp2612"
  mac   = "00:0B:82:AA:BB:CC"
  user  = user.concierge
}
