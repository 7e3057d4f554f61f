# Brightwater Design: a small London studio run as a Smart-PBX. Eight people
# with desk phones and fixed extensions, direct-dial numbers from the
# carrier's pool, conference rooms, voicemail and a company directory, and
# a video door station at the entrance that rings reception.

site "brightwater" {
  name     = "Brightwater Design Ltd"
  country  = "GB" # 999 and 112 are emergency numbers: no extension may start with them
  timezone = "Europe/London"
  domain   = "pbx.brightwater.example"

  installer {
    company = "Thameside Comms"
    email   = "noc@thameside-comms.example"
    phone   = "+442079460999"
  }

  features {
    voicemail = "*97" # dial *97 from any phone to hear your messages
  }
}

# Carrier credentials are variables, never literals in the site files. The
# defaults let the example validate out of the box; a real site sets them
# with -var-file or SWITCHBOARD_VAR_trunk_user / SWITCHBOARD_VAR_trunk_password.
variable "trunk_user" {
  type        = string
  description = "SIP trunk account name at the carrier"
  default     = "brightwater-demo"
}

variable "trunk_password" {
  type        = string
  description = "SIP trunk password at the carrier"
  sensitive   = true
  default     = "demo-only-not-a-real-password"
}

trunk "carrier" {
  host      = "sip.carrier.example"
  port      = "5061"
  transport = "tls"
  username  = var.trunk_user
  password  = var.trunk_password # sensitive: never printed
  numbers = [
    "+442079460100", # main number
    "+442079460101",
    "+442079460102",
    "+442079460103",
    "+442079460104",
    "+442079460105",
  ]
}
