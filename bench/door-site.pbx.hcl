# The site bench/sip and bench/soak both serve: one door station whose
# button rings residence R1, three app accounts rung at once. The scripts
# fill in @NAME@ and @DOMAIN@ (sed); bench/sip adds thousands of users.
site "@NAME@" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "@DOMAIN@"
  installer {
    company = "Bench Ltd"
    email   = "installer@@DOMAIN@"
  }
}
residence "r1" {
  label        = "R1"
  ring_timeout = "30s"
}
device "door" {
  model = "akuvox-r29c"
  mac   = "0C:11:05:00:00:01"
  button "1" { calls = residence.r1 }
  relay "door" {
    dtmf = "#"
    hold = "3s"
  }
}
user "ep1" {
  email     = "ep1@@DOMAIN@"
  residence = residence.r1
  role      = "owner"
  extension = 10001
  app       = true
}
user "ep2" {
  email     = "ep2@@DOMAIN@"
  residence = residence.r1
  extension = 10002
  app       = true
}
user "ep3" {
  email     = "ep3@@DOMAIN@"
  residence = residence.r1
  extension = 10003
  app       = true
}
