// Package emergency knows the emergency numbers of each country: the short
// numbers that a PBX must always pass to the carrier, and that no extension,
// conference room, feature code or short dial may equal or begin with.
//
// The table holds the numbers a national regulator lists for reaching
// emergency services (police, fire, ambulance, rescue, coastguard), the EU's
// 112 everywhere in the EU, and the few short crisis and social-emergency
// numbers a regulator lists beside them (France's 115 and 119, Austria's 142
// and 147, North America's 988). Non-emergency service lines (GB 101 and
// 111, NZ 105, US 311, DK 114) are deliberately left out.
//
// To add a country, add one line to table in alphabetical order of its ISO
// 3166-1 alpha-2 code, numbers sorted, and cite the source in a comment.
package emergency

import (
	"slices"
	"strings"
)

// table is keyed by ISO 3166-1 alpha-2 code; one line per country, sorted.
// Sources, where a number is not the obvious one:
//
//	[RTR]  Austrian regulator RTR, "Notrufe" consumer page (rtr.at), lists 112 122 128 133 140 141 142 144 147.
//	[CZP]  Police of the Czech Republic, "National Emergency Line 158" (policie.cz): 150 155 156 158 112.
//	[GOV-PL] 112.gov.pl "What is 112": 997 998 999 work alongside 112; 991-994 utility and 987 crisis
//	       management numbers as listed on Polish emergency-number notices.
//	[FR]   service-public.fr "Numéros d'urgence": 15 17 18 112 114 115 119 191 196 197.
//	[ES]   Ministerio del Interior / 112 Catalunya: 061 medical, 062 Guardia Civil, 080/085 fire,
//	       088 regional police, 091 Policía Nacional, 092 Policía Local.
//	[IT]   Italian NUE 112 rollout: 113 police, 115 fire, 117 Guardia di Finanza, 118 ambulance,
//	       1515 environmental emergencies (Carabinieri forestali), 1530 coast guard.
//	[GR]   Hellenic police/EKAB: 100 police, 108 coast guard, 166 ambulance, 171 tourist police, 199 fire.
//	[HR]   Croatian civil protection: 192 police, 193 fire, 194 ambulance, 195 sea search and rescue.
//	[LV]   latvija.lv "Palīdzības dienesti": 110 police, 112, 113 ambulance, 114 gas emergency.
//	[BG]   112 is the single number since 2008; 150, 160, 166 still forward to it.
//	[AU]   triplezero.gov.au: 000, 112 (mobile), 106 (text relay for deaf users).
//	[NZ]   NZ Police: 111; 112 from mobiles.
//	[NANP] FCC: 911, and 988 (Suicide & Crisis Lifeline, 2022; Canada from 2023).
//	[CH]   BAKOM/OFCOM: 112, 117 police, 118 fire, 144 ambulance, 145 Tox Info, 1414 Rega.
var table = map[string][]string{
	"AT": {"112", "122", "128", "133", "140", "141", "142", "144", "147"}, // [RTR]
	"AU": {"000", "106", "112"},                                           // [AU]
	"BE": {"100", "101", "112"},                                           // 100 fire/ambulance, 101 police
	"BG": {"112", "150", "160", "166"},                                    // [BG]
	"CA": {"911", "988"},                                                  // [NANP]
	"CH": {"112", "117", "118", "1414", "144", "145"},                     // [CH] (not EU; common neighbour)
	"CY": {"112", "199"},                                                  // 199 national emergency
	"CZ": {"112", "150", "155", "156", "158"},                             // [CZP]
	"DE": {"110", "112"},                                                  // 110 police, 112 fire/ambulance
	"DK": {"112"},
	"EE": {"110", "112"},                                           // 110 police
	"ES": {"061", "062", "080", "085", "088", "091", "092", "112"}, // [ES]
	"FI": {"112"},
	"FR": {"112", "114", "115", "119", "15", "17", "18", "191", "196", "197"}, // [FR]
	"GB": {"112", "999"},                                                      // Ofcom
	"GR": {"100", "108", "112", "166", "171", "199"},                          // [GR]
	"HR": {"112", "192", "193", "194", "195"},                                 // [HR]
	"HU": {"104", "105", "107", "112"},                                        // 104 ambulance, 105 fire, 107 police
	"IE": {"112", "999"},                                                      // ComReg
	"IS": {"112"},                                                             // (EEA)
	"IT": {"112", "113", "115", "117", "118", "1515", "1530"},                 // [IT]
	"LT": {"112"},                                                             // single number since 2010s
	"LU": {"112", "113"},                                                      // 113 police
	"LV": {"110", "112", "113", "114"},                                        // [LV]
	"MT": {"112"},
	"NL": {"112"},
	"NO": {"110", "112", "113"},                                           // 110 fire, 112 police, 113 ambulance (EEA)
	"NZ": {"111", "112"},                                                  // [NZ]
	"PL": {"112", "987", "991", "992", "993", "994", "997", "998", "999"}, // [GOV-PL]
	"PT": {"112"},
	"RO": {"112"},
	"SE": {"112"},
	"SI": {"112", "113"},               // 113 police
	"SK": {"112", "150", "155", "158"}, // 150 fire, 155 ambulance, 158 police
	"US": {"911", "988"},               // [NANP]
}

// eu lists the member states of the European Union, where 112 is mandatory.
var eu = []string{
	"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
	"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
}

// aliases are codes people write that are not the ISO code of the country.
var aliases = map[string]string{
	"UK": "GB", // ISO 3166 reserves UK; the code is GB
	"EL": "GR", // the EU writes Greece as EL
}

// EU returns the member states of the European Union, sorted.
func EU() []string { return slices.Clone(eu) }

// Numbers returns the emergency numbers of an ISO 3166-1 alpha-2 country
// code (upper case), sorted. The slice is a copy. ok is false when the
// country is not in the table.
func Numbers(country string) (numbers []string, ok bool) {
	n, ok := table[country]
	return slices.Clone(n), ok
}

// Countries returns every country code in the table, sorted.
func Countries() []string {
	out := make([]string, 0, len(table))
	for c := range table {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Suggest returns the code a person probably meant when they wrote an
// unknown code: the upper-case form, or the ISO code for a common alias
// such as "UK". It returns "" when there is no good guess.
func Suggest(country string) string {
	up := strings.ToUpper(strings.TrimSpace(country))
	if a, ok := aliases[up]; ok {
		return a
	}
	if _, ok := table[up]; ok && up != country {
		return up
	}
	return ""
}

// Conflict describes how a dialled number relates to an emergency number.
type Conflict int

const (
	// None: the number neither equals, begins with, nor is a prefix of an
	// emergency number.
	None Conflict = iota
	// Equals: the number is an emergency number.
	Equals
	// BeginsWith: the number begins with an emergency number, so a phone
	// dialling the emergency number would have to wait for more digits.
	BeginsWith
	// PrefixOf: the number is a proper prefix of an emergency number, so a
	// phone dialling it waits for an inter-digit timeout.
	PrefixOf
)

// Check reports the first conflict of number with the given emergency
// numbers, the most severe kind first, and the emergency number involved.
func Check(number string, emergency []string) (Conflict, string) {
	for _, e := range emergency {
		if number == e {
			return Equals, e
		}
	}
	for _, e := range emergency {
		if strings.HasPrefix(number, e) {
			return BeginsWith, e
		}
	}
	for _, e := range emergency {
		if strings.HasPrefix(e, number) {
			return PrefixOf, e
		}
	}
	return None, ""
}
